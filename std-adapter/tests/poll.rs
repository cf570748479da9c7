//! The event loop (`wsgiref_std::poll`) at scale and at its edges: a thousand concurrent
//! keep-alive connections on one thread, threads sharing the epoll set and handing off
//! their turns, the connection limit, the core's deadlines driving the poll timeout,
//! application panics, and shutdown.
//!
//! Each test runs its own `PollServer` on 127.0.0.1 (port 0) in a thread of the test and
//! stops it with its shutdown handle.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[path = "common/slow.rs"]
mod slow;

use wsgiref::Timeouts;
use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref_std::poll::{PollConfig, PollServer, PollShutdown, raise_fd_limit};
use wsgiref_std::server::RequestHandler;

type Body = Bytes<Vec<u8>>;

/// How long `/sleep` takes.
const SLEEP: Duration = Duration::from_secs(3);

/// Answers `hello <path>`; `/panic` panics before the head; `/big` answers 8 MiB; `/read`
/// reads the whole body through `wsgi.input` and answers its length; `/thread` answers the
/// name of the thread that serves it; `/sleep` takes 3 s; `/multithread` answers the
/// environ's `wsgi.multithread`.
fn app(req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
    let path = req.environ.get("PATH_INFO").unwrap_or(b"").to_vec();
    if path == b"/sleep" {
        thread::sleep(SLEEP);
    }
    if path == b"/thread" {
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        return Ok(Bytes::new(
            format!("{:?}", thread::current().id()).into_bytes(),
        ));
    }
    if path == b"/panic" {
        panic!("boom in the loop");
    }
    if path == b"/multithread" {
        let value = req.environ.value("wsgi.multithread");
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        return Ok(Bytes::new(format!("{value:?}").into_bytes()));
    }
    if path == b"/big" {
        sr.start("200 OK", &[("Content-Type", "application/octet-stream")])?;
        return Ok(Bytes::new(vec![b'x'; 8 << 20]));
    }
    if path == b"/read" {
        let mut total = 0usize;
        let mut buf = [0u8; 4096];
        loop {
            match embedded_io::Read::read(&mut *req.input, &mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(_) => return Err(AppError::new("reading the body failed")),
            }
        }
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        return Ok(Bytes::new(total.to_string().into_bytes()));
    }
    sr.start("200 OK", &[("Content-Type", "text/plain")])?;
    let mut body = b"hello ".to_vec();
    body.extend_from_slice(&path);
    Ok(Bytes::new(body))
}

/// Collects the server's error stream and access log.
#[derive(Default)]
struct Captured(Mutex<String>);

impl RequestHandler for Captured {
    fn get_stderr(&self, text: fmt::Arguments<'_>) {
        if let Ok(mut s) = self.0.lock() {
            fmt::Write::write_fmt(&mut *s, text).ok();
        }
    }
}

struct Running {
    addr: SocketAddr,
    stop: PollShutdown,
    thread: Option<JoinHandle<String>>,
}

impl Running {
    /// One thread of the test ([`PollServer::serve_forever`]); with `config.loops` or
    /// `config.threads` > 1, [`PollServer::serve_forever_on`].
    fn start(config: PollConfig) -> Self {
        let loops = config.loops.max(config.threads);
        let server = PollServer::bind("127.0.0.1:0", app, config, Captured::default()).unwrap();
        let addr = server.server_address();
        let stop = server.shutdown_handle();
        let thread = thread::spawn(move || {
            if loops > 1 {
                server.serve_forever_on().unwrap();
            } else {
                server.serve_forever().unwrap();
            }
            // What was logged, for the test to look at.
            server.handler().0.lock().unwrap().clone()
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Shuts down and waits for `serve_forever` to return; fails if it takes over `within`.
    /// Returns what the server logged.
    fn stop(mut self, within: Duration) -> String {
        let started = Instant::now();
        self.stop.shutdown();
        let log = self
            .thread
            .take()
            .map(|t| t.join().expect("the loop thread panicked"))
            .unwrap_or_default();
        assert!(
            started.elapsed() < within,
            "shutdown took {:?}",
            started.elapsed()
        );
        log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one response with a `Content-Length` from `s`; returns (status line, body).
fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            other => panic!("connection ended inside a head ({other:?}): {buf:?}"),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (head.lines().next().unwrap().to_string(), body)
}

/// Sends a GET in one write.
fn get(s: &mut TcpStream, path: &str) {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
}

/// True if the server closed `s` (EOF) within its read timeout.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    matches!(s.read(&mut b), Ok(0))
        || matches!(s.read(&mut b), Err(e) if e.kind() == ErrorKind::ConnectionReset)
}

/// `rounds` rounds of one request on every connection, all sent before any answer is read;
/// every answer must be the right one.
fn rounds_on_every_connection(clients: &mut [TcpStream], rounds: usize) {
    for round in 0..rounds {
        for (i, c) in clients.iter_mut().enumerate() {
            get(c, &format!("/{round}/{i}"));
        }
        for (i, c) in clients.iter_mut().enumerate() {
            let (status, body) = read_response(c);
            assert_eq!(status, "HTTP/1.1 200 OK", "connection {i}, round {round}");
            assert_eq!(body, format!("hello /{round}/{i}").into_bytes());
        }
    }
}

/// One thread, 1,000 connections open at once, each served twice (so each persisted), and
/// the 1,001st connection over the limit answered `503`.
#[test]
fn a_thousand_concurrent_keep_alive_connections_on_one_thread() {
    const N: usize = 1000;
    // The test holds N client sockets and the server N more, in one process.
    let limit = raise_fd_limit(2 * N as u64 + 64);
    assert!(
        limit >= 2 * N as u64 + 64,
        "this test needs {} open files, the hard limit allows {limit}",
        2 * N + 64
    );
    let server = Running::start(PollConfig {
        max_connections: N,
        rx_buffer: 2048,
        tx_buffer: 512,
        quiet: true,
        ..PollConfig::default()
    });
    let mut clients: Vec<TcpStream> = (0..N).map(|_| server.connect()).collect();
    rounds_on_every_connection(&mut clients, 2);
    // Every slot is taken by a live keep-alive connection: the next one is refused.
    let mut extra = server.connect();
    get(&mut extra, "/extra");
    let mut answer = String::new();
    extra.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    // A slot freed by a client that leaves is taken by the next connection.
    drop(clients.pop());
    let mut next = None;
    for _ in 0..100 {
        let mut c = server.connect();
        get(&mut c, "/again");
        let mut head = [0u8; 12];
        if c.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 200" {
            next = Some(c);
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(next.is_some(), "the freed slot was never reused");
    drop(clients);
    server.stop(Duration::from_secs(5));
}

/// Two threads share one epoll set: while one of them is inside a 3 s application, the
/// other serves every other connection, old and new, whichever thread served it before
/// (with one event loop per thread, the connections of the busy loop waited for it).
#[test]
fn a_thread_inside_a_slow_application_holds_only_that_connection() {
    let server = Running::start(PollConfig {
        loops: 2,
        quiet: true,
        ..PollConfig::default()
    });
    let mut clients: Vec<TcpStream> = (0..6).map(|_| server.connect()).collect();
    for s in &mut clients {
        get(s, "/thread");
        let (status, _) = read_response(s);
        assert_eq!(status, "HTTP/1.1 200 OK");
    }
    get(&mut clients[0], "/sleep");
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    for _ in 0..3 {
        for (i, s) in clients.iter_mut().enumerate().skip(1) {
            get(s, "/thread");
            let (status, _) = read_response(s);
            assert_eq!(status, "HTTP/1.1 200 OK", "connection {i}");
        }
    }
    let mut fresh = server.connect();
    get(&mut fresh, "/");
    let (status, _) = read_response(&mut fresh);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        started.elapsed() < SLEEP / 2,
        "the other connections waited {:?} for the busy thread",
        started.elapsed()
    );
    let (status, _) = read_response(&mut clients[0]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    drop((clients, fresh));
    server.stop(Duration::from_secs(10));
}

/// One turn at the epoll set and four threads: three applications that each take 3 s run
/// at once (a waiting thread takes the turn of each one that stays inside its application),
/// and the other connections are served meanwhile.
#[test]
fn slow_applications_hand_their_turn_to_waiting_threads() {
    let server = Running::start(PollConfig {
        loops: 1,
        threads: 4,
        quiet: true,
        ..PollConfig::default()
    });
    let started = Instant::now();
    let sleepers: Vec<JoinHandle<(String, Duration)>> = (0..3)
        .map(|_| {
            let mut s = server.connect();
            thread::spawn(move || {
                get(&mut s, "/sleep");
                let (status, _) = read_response(&mut s);
                (status, started.elapsed())
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let mut fresh = server.connect();
    for round in 0..3 {
        get(&mut fresh, &format!("/{round}"));
        let (status, body) = read_response(&mut fresh);
        assert_eq!(
            (status.as_str(), body),
            ("HTTP/1.1 200 OK", format!("hello /{round}").into_bytes())
        );
    }
    assert!(
        started.elapsed() < SLEEP / 2,
        "a fast request waited {:?} behind the slow ones",
        started.elapsed()
    );
    for sleeper in sleepers {
        let (status, took) = sleeper.join().unwrap();
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            took < SLEEP + SLEEP / 2,
            "the slow applications ran one after another: one ended after {took:?}"
        );
    }
    drop(fresh);
    server.stop(Duration::from_secs(10));
}

/// A burst of keep-alive connections on two threads: every connection is answered in
/// every round, on a connection any thread may drive.
/// PEP 3333: `wsgi.multithread` is true if another thread may be inside the application
/// at the same time. `serve_forever` serves on one thread (false); `serve_forever_on` with
/// more than one thread lets each of them run it (true). Before, the event loop said false
/// on any number of threads.
#[test]
fn wsgi_multithread_says_whether_threads_share_the_application() {
    for (loops, threads, expected) in [(1, 1, "false"), (1, 4, "true"), (2, 2, "true")] {
        let server = Running::start(PollConfig {
            loops,
            threads,
            ..PollConfig::default()
        });
        let mut s = server.connect();
        get(&mut s, "/multithread");
        let (status, body) = read_response(&mut s);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!("Some(Bool({expected}))"),
            "loops {loops}, threads {threads}"
        );
    }
}

#[test]
fn a_burst_of_keep_alive_connections_on_two_threads() {
    const N: usize = 64;
    let server = Running::start(PollConfig {
        loops: 2,
        quiet: true,
        ..PollConfig::default()
    });
    let mut clients: Vec<TcpStream> = (0..N).map(|_| server.connect()).collect();
    rounds_on_every_connection(&mut clients, 20);
    drop(clients);
    server.stop(Duration::from_secs(10));
}

/// The keep-alive deadline closes an idle connection while an active one keeps being
/// served: the loop wakes for the deadline, not only for sockets.
#[test]
fn idle_connections_are_closed_by_the_core_deadline() {
    let server = Running::start(PollConfig {
        timeouts: Timeouts {
            keep_alive: Duration::from_millis(300),
            ..Timeouts::DEFAULT
        },
        quiet: true,
        ..PollConfig::default()
    });
    let mut idle = server.connect();
    // The idle time starts once the response is sent: after the request, and before the
    // client reads the response (which a busy machine can delay). Measured from the request.
    let started = Instant::now();
    get(&mut idle, "/idle");
    assert_eq!(read_response(&mut idle).1, b"hello /idle");
    let mut busy = server.connect();
    // The busy client keeps its connection alive with a request every 100 ms.
    for i in 0..8 {
        get(&mut busy, &format!("/busy/{i}"));
        assert_eq!(
            read_response(&mut busy).1,
            format!("hello /busy/{i}").into_bytes()
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        closed_by_server(&mut idle),
        "the idle connection is still open"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "closed early: {waited:?}"
    );
    server.stop(Duration::from_secs(5));
}

/// A client that connects and never sends a byte is closed by the first-byte deadline,
/// without a word. Regression: the deadline was armed only when the connection was first
/// driven, by a readable event that a silent client never raises, so it held its slot
/// (and its buffers) until it went away.
#[test]
fn a_silent_connection_is_closed_by_the_first_byte_deadline() {
    let server = Running::start(PollConfig {
        timeouts: Timeouts {
            first_byte: Duration::from_millis(300),
            ..Timeouts::DEFAULT
        },
        quiet: true,
        ..PollConfig::default()
    });
    let started = Instant::now();
    let mut silent = server.connect();
    assert!(
        closed_by_server(&mut silent),
        "the silent connection is still open"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed early: {waited:?}"
    );
    server.stop(Duration::from_secs(5));
}

/// A slow head is cut off by the head deadline with `408`, and the loop keeps serving.
#[test]
fn a_slow_head_gets_408() {
    let server = Running::start(PollConfig {
        timeouts: Timeouts {
            head: Duration::from_millis(300),
            ..Timeouts::DEFAULT
        },
        quiet: true,
        ..PollConfig::default()
    });
    let mut slow = server.connect();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let mut other = server.connect();
    get(&mut other, "/next");
    assert_eq!(read_response(&mut other).1, b"hello /next");
    server.stop(Duration::from_secs(5));
}

/// A panicking application is answered `500` and logged; the loop (the only thread) goes on.
#[test]
fn a_panic_in_the_application_does_not_stop_the_loop() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let deliberate = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.starts_with("boom"));
        if !deliberate {
            default_hook(info);
        }
    }));
    let server = Running::start(PollConfig::default());
    let mut c = server.connect();
    get(&mut c, "/panic");
    let (status, _) = read_response(&mut c);
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error");
    let mut c = server.connect();
    get(&mut c, "/after");
    assert_eq!(read_response(&mut c).1, b"hello /after");
    let log = server.stop(Duration::from_secs(5));
    assert!(
        log.contains("application panicked: boom in the loop\n"),
        "{log}"
    );
    assert!(log.contains("\"GET /panic HTTP/1.1\" 500 "), "{log}");
    assert!(log.contains("\"GET /after HTTP/1.1\" 200 12\n"), "{log}");
}

/// Shutdown closes idle keep-alive connections at once, lets a request whose head is
/// arriving finish, accepts nothing new, and returns.
#[test]
fn shutdown_finishes_requests_in_flight_and_closes_idle_ones() {
    let server = Running::start(PollConfig {
        quiet: true,
        ..PollConfig::default()
    });
    let mut idle = server.connect();
    get(&mut idle, "/idle");
    assert_eq!(read_response(&mut idle).1, b"hello /idle");
    let mut inflight = server.connect();
    inflight
        .write_all(b"GET /inflight HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    server.stop.shutdown();
    thread::sleep(Duration::from_millis(100));
    assert!(
        closed_by_server(&mut idle),
        "the idle connection is still open"
    );
    inflight.write_all(b"\r\n").unwrap();
    let (status, body) = read_response(&mut inflight);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, b"hello /inflight");
    assert!(closed_by_server(&mut inflight));
    let addr = server.addr;
    server.stop(Duration::from_secs(5));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "still accepting after shutdown"
    );
}

/// A client that asks for 8 MiB and never reads holds the loop (the application's write
/// waits on its socket) for at most `write_timeout`; then it is cut off and the next client
/// is served.
#[test]
fn a_client_that_never_reads_is_cut_off_by_the_write_timeout() {
    let server = Running::start(PollConfig {
        write_timeout: Duration::from_millis(500),
        quiet: true,
        ..PollConfig::default()
    });
    let mut stuck = server.connect();
    get(&mut stuck, "/big");
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let mut other = server.connect();
    get(&mut other, "/next");
    assert_eq!(read_response(&mut other).1, b"hello /next");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "the loop was held {waited:?}"
    );
    // What the stuck client can still read is a cut-off response.
    let mut got = Vec::new();
    let _ = stuck.read_to_end(&mut got);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got.len() < 8 << 20, "the whole body arrived");
    server.stop(Duration::from_secs(5));
}

/// A client that reads steadily but slowly is not cut off, however long its response takes:
/// the write timeout counts time without progress. (Linux reports the socket writable only
/// once a third of its send buffer is free, so waiting for that alone cut such a client off
/// once the buffer had grown large: after `write_timeout`, mid-response.)
#[test]
fn a_slow_steady_reader_gets_its_whole_response() {
    let server = Running::start(PollConfig {
        write_timeout: Duration::from_millis(300),
        quiet: true,
        ..PollConfig::default()
    });
    let mut reader = server.connect();
    get(&mut reader, "/big");
    // About 2.5 MB/s: 8 MiB take over three seconds, ten times the write timeout.
    let started = Instant::now();
    let (head, body) = slow::read_slowly(&mut reader, 2.5e6).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body.len(), 8 << 20);
    assert!(body.iter().all(|&b| b == b'x'));
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "read too fast to show anything"
    );
    server.stop(Duration::from_secs(5));
}

/// A slow uploader holds the loop while the application reads its body, for at most the
/// body deadline (the documented cost of running applications on the loop); then its
/// request fails and the next client is served.
#[test]
fn a_stalled_upload_holds_the_loop_at_most_the_body_deadline() {
    let server = Running::start(PollConfig {
        timeouts: Timeouts {
            body: Duration::from_millis(400),
            ..Timeouts::DEFAULT
        },
        quiet: true,
        ..PollConfig::default()
    });
    let mut slow = server.connect();
    slow.write_all(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let mut other = server.connect();
    get(&mut other, "/next");
    assert_eq!(read_response(&mut other).1, b"hello /next");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "the loop was held {waited:?}"
    );
    let mut answer = String::new();
    let _ = slow.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 ") || answer.starts_with("HTTP/1.1 500 "),
        "{answer}"
    );
    server.stop(Duration::from_secs(5));
}

/// Disconnects mid-head, mid-body and mid-response, and an oversized head: each ends its
/// connection without disturbing the loop, which answers the next client.
#[test]
fn hostile_clients_do_not_disturb_the_loop() {
    let server = Running::start(PollConfig {
        quiet: true,
        ..PollConfig::default()
    });
    // Mid-head.
    let mut c = server.connect();
    c.write_all(b"GET /half HTTP/1.1\r\nHo").unwrap();
    drop(c);
    // Mid-body.
    let mut c = server.connect();
    c.write_all(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    drop(c);
    // Mid-response: ask for 8 MiB, read a little, leave.
    let mut c = server.connect();
    get(&mut c, "/big");
    let mut some = [0u8; 1024];
    c.read_exact(&mut some).unwrap();
    drop(c);
    // An oversized head: 431, and the connection closes.
    let mut c = server.connect();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(16 * 1024)
    );
    let _ = c.write_all(big.as_bytes());
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    // A complete upload is read whole by the application.
    let mut c = server.connect();
    c.write_all(b"POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut c).1, b"5");
    // And the loop goes on.
    let mut c = server.connect();
    get(&mut c, "/after");
    assert_eq!(read_response(&mut c).1, b"hello /after");
    server.stop(Duration::from_secs(5));
}
