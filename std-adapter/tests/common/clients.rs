//! Real clients over real sockets on 127.0.0.1 against the `wsgiref` command: curl, Python's
//! `http.client`, raw pipelined bytes from Rust, and nginx as a keep-alive reverse proxy.
//! The suite is included by `tests/clients.rs` (`--engine threads`),
//! `tests/clients_poll.rs` (`--engine poll`) and `tests/clients_poll_threads.rs` (`--engine
//! poll --threads 2`), which set `crate::ENGINE` (the engine and any further options) and
//! `crate::SERVER_BIN` (the command to run; `wsgiref-tokio`'s tests run the same suite
//! against its `wsgiref-tokio` command).
//!
//! Each test starts its own `wsgiref --app echo|hello --bind 127.0.0.1:PORT --quiet` child
//! and kills exactly that child when it ends, passing or failing. The echo app answers 200
//! with the request body read through `wsgi.input` and the headers `X-Method`, `X-Path`,
//! `X-Query` and `X-Content-Length`; the hello app answers `Hello World`.
//!
//! Needs `curl`, `python3` and `nginx` on the machine (`.ci/run` installs them); a missing
//! one fails its test with a message saying so.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

#[path = "http.rs"]
mod http;
use http::*;

// ---------------------------------------------------------------------------------------
// Harness: the server child, temp dirs, clients.

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A child process stopped (by its pid) and reaped on drop.
struct ChildGuard {
    child: Child,
    name: &'static str,
    /// A log file shown when the test fails.
    log: Option<PathBuf>,
    /// Ask it to stop with SIGTERM first (nginx's master then stops its workers, which a
    /// SIGKILL of the master would leave running); SIGKILL if it has not exited in 5 s.
    terminate: bool,
}

impl ChildGuard {
    /// Fails the test if the child has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.terminate {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            for _ in 0..100 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = self.log_text();
            if !log.is_empty() {
                eprintln!("--- {} log ---\n{log}--- end ---", self.name);
            }
        }
    }
}

/// Waits until `addr` accepts connections (bounded), failing early if `child` exits.
fn wait_accepting(addr: SocketAddr, child: &mut ChildGuard) -> bool {
    for _ in 0..200 {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.child.try_wait() {
            return false;
        }
        thread::sleep(Duration::from_millis(25));
    }
    child.assert_running();
    panic!("{} never accepted connections on {addr}", child.name);
}

/// The `wsgiref` command serving one app on 127.0.0.1, killed on drop.
struct Server {
    addr: SocketAddr,
    guard: ChildGuard,
    _dir: TempDir,
}

impl Server {
    fn start(app: &str) -> Self {
        Self::start_with(app, false)
    }

    /// The command serving `app`, wrapped in the validator with `validate`. It binds port 0
    /// and the address is read from the line it prints (`Serving … on http://ADDR/`): a port
    /// picked beforehand could be taken by another test's server in between, whose accepting
    /// would then pass for this one's.
    fn start_with(app: &str, validate: bool) -> Self {
        let dir = TempDir::new(&format!("server-{app}"));
        let log = dir.file("server.log");
        let out = dir.file("server.out");
        let child = Command::new(crate::SERVER_BIN)
            .args(["--app", app, "--bind", "127.0.0.1:0", "--quiet"])
            .arg("--engine")
            .args(crate::ENGINE.split_whitespace())
            .args(if validate { &["--validate"][..] } else { &[] })
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("log file"))
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn the wsgiref command");
        let mut guard = ChildGuard {
            child,
            name: "wsgiref",
            log: Some(log),
            terminate: false,
        };
        let addr = (0..400)
            .find_map(|_| {
                let text = fs::read_to_string(&out).unwrap_or_default();
                let addr = text
                    .split_once("http://")
                    .and_then(|(_, rest)| rest.split_once('/'))
                    .and_then(|(addr, _)| addr.parse::<SocketAddr>().ok());
                if addr.is_none() {
                    guard.assert_running();
                    thread::sleep(Duration::from_millis(25));
                }
                addr
            })
            .unwrap_or_else(|| {
                panic!(
                    "the wsgiref command printed no address: {}",
                    guard.log_text()
                )
            });
        assert!(
            wait_accepting(addr, &mut guard),
            "wsgiref on {addr} exited: {}",
            guard.log_text()
        );
        Self {
            addr,
            guard,
            _dir: dir,
        }
    }

    /// Fails the test if the server has exited (crashed).
    fn assert_running(&mut self) {
        self.guard.assert_running();
    }

    fn url(&self, target: &str) -> String {
        format!("http://{}{target}", self.addr)
    }

    fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// One fresh connection, one GET, the whole response.
    fn get(&self, target: &str) -> Response {
        get(self.addr, target)
    }
}

/// Two URLs in one curl invocation share one connection: `%{num_connects}` is 1, then 0.
#[test]
fn curl_keep_alive_reuses_the_connection() {
    let server = Server::start("hello");
    let out = curl(&[
        "-v",
        "-w",
        " %{http_code} %{num_connects}\n",
        &server.url("/one"),
        &server.url("/two?x=1"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello World 200 1\nHello World 200 0\n"
    );
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(
        trace.contains("Re-using existing connection") || trace.contains("Reusing existing"),
        "curl did not say it reused the connection:\n{trace}"
    );
}

/// A chunked upload (`Transfer-Encoding: chunked`, 300 KiB) comes back byte for byte.
#[test]
fn curl_chunked_upload_is_echoed_intact() {
    let server = Server::start("echo");
    let dir = TempDir::new("chunked");
    let data = pattern(300 * 1024 + 7, 1);
    fs::write(dir.file("in"), &data).unwrap();
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", dir.file("in").display()),
        "-D",
        &dir.file("head").display().to_string(),
        "-o",
        &dir.file("out").display().to_string(),
        "-w",
        "%{http_code}",
        &server.url("/upload?kind=chunked"),
    ]);
    assert_eq!(out.stdout, b"200");
    let head = fs::read_to_string(dir.file("head")).unwrap();
    assert_eq!(header(&head, "X-Method"), Some("POST"), "{head}");
    assert_eq!(header(&head, "X-Path"), Some("/upload"), "{head}");
    assert_eq!(header(&head, "X-Query"), Some("kind=chunked"), "{head}");
    // A chunked request has no CONTENT_LENGTH.
    assert_eq!(
        header(&head, "X-Content-Length").unwrap_or(""),
        "",
        "{head}"
    );
    let echoed = fs::read(dir.file("out")).unwrap();
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "the echoed body differs from the upload");
}

/// POSTs `file` with `Expect: 100-continue`; returns curl's `-v` trace, the status and
/// curl's `time_total` in seconds.
fn curl_expect(server: &Server, file: &Path, out: &Path) -> (String, String, f64) {
    let output = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &format!("@{}", file.display()),
        "-o",
        &out.display().to_string(),
        "-w",
        "%{http_code} %{time_total}",
        &server.url("/expect"),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (code, total) = stdout.split_once(' ').expect("code and time");
    let trace = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        trace.contains("> Expect: 100-continue"),
        "curl did not send Expect:\n{trace}"
    );
    // What curl says when it gives up waiting and sends the body anyway.
    assert!(
        !trace.contains("Done waiting for 100-continue"),
        "curl waited out its expect timeout:\n{trace}"
    );
    (trace, code.to_string(), total.parse().expect("time_total"))
}

/// `Expect: 100-continue`: the echo app reads the body, so `100 Continue` goes out and curl
/// does not wait out its 1 s expect timeout; the body comes back intact. An app that never
/// reads the body (hello) gets no `100 Continue`: its final answer comes at once.
#[test]
fn curl_expect_100_continue_does_not_stall() {
    let dir = TempDir::new("expect");
    let data = pattern(64 * 1024, 2);
    fs::write(dir.file("in"), &data).unwrap();

    let echo = Server::start("echo");
    let (trace, code, total) = curl_expect(&echo, &dir.file("in"), &dir.file("out"));
    let (cont, ok) = (
        trace.find("< HTTP/1.1 100 Continue"),
        trace.find("< HTTP/1.1 200 OK"),
    );
    assert!(
        cont.is_some() && ok.is_some() && cont < ok,
        "no 100 Continue before the 200:\n{trace}"
    );
    assert_eq!(code, "200");
    // A stall is curl's expect timeout: 1 s.
    assert!(total < 0.9, "the upload stalled: {total} s\n{trace}");
    assert!(fs::read(dir.file("out")).unwrap() == data, "body differs");

    let hello = Server::start("hello");
    let (trace, code, total) = curl_expect(&hello, &dir.file("in"), &dir.file("out"));
    assert!(
        !trace.contains("< HTTP/1.1 100"),
        "100 Continue for a body never read:\n{trace}"
    );
    assert_eq!(code, "200");
    assert!(total < 0.9, "stalled: {total} s\n{trace}");
    assert_eq!(fs::read(dir.file("out")).unwrap(), b"Hello World");
}

/// HEAD: the head GET would have (Content-Length: 11), no body. curl then reuses the
/// connection for a GET, which a stray body would have corrupted; the same over raw bytes.
#[test]
fn head_has_headers_and_no_body() {
    let server = Server::start("hello");
    let out = curl(&[
        "-I",
        "-w",
        "[%{http_code} %{num_connects}]\n",
        &server.url("/head"),
        "--next",
        "-w",
        "[%{http_code} %{num_connects}]\n",
        &server.url("/get"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (head, rest) = stdout.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{stdout}");
    assert_eq!(header(head, "Content-Length"), Some("11"), "{stdout}");
    assert_eq!(rest, "[200 1]\nHello World[200 0]\n");

    // Raw: HEAD then GET pipelined; the GET's status line follows the HEAD's blank line.
    let mut s = server.connect();
    s.write_all(
        b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_to_eof(&mut s);
    let (responses, rest) = parse_responses(&all, &["HEAD", "GET"]);
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(responses.len(), 2, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("Content-Length"), Some("11"));
    assert!(responses[0].body.is_empty());
    assert_eq!(responses[1].status, 200);
    assert_eq!(responses[1].body, b"Hello World");
}

/// A 1 MiB body (Content-Length, no Expect) makes the round trip intact.
#[test]
fn curl_one_mebibyte_round_trip() {
    let server = Server::start("echo");
    let dir = TempDir::new("large");
    let data = pattern(1 << 20, 3);
    fs::write(dir.file("in"), &data).unwrap();
    let out = curl(&[
        "-H",
        "Expect:",
        "-X",
        "PUT",
        "--data-binary",
        &format!("@{}", dir.file("in").display()),
        "-D",
        &dir.file("head").display().to_string(),
        "-o",
        &dir.file("out").display().to_string(),
        "-w",
        "%{http_code} %{size_upload} %{size_download}",
        &server.url("/large"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 1048576 1048576");
    let head = fs::read_to_string(dir.file("head")).unwrap();
    assert_eq!(header(&head, "X-Method"), Some("PUT"), "{head}");
    assert_eq!(header(&head, "X-Content-Length"), Some("1048576"), "{head}");
    assert!(fs::read(dir.file("out")).unwrap() == data, "body differs");
}

// ---------------------------------------------------------------------------------------
// Python's http.client

fn python_client(mode: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/it-http-client.py");
    let mut server = Server::start("echo");
    let port = server.addr.port().to_string();
    let out = run("python3", &[script, mode, &port]);
    server.assert_running();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Five requests (GET, POST with a query, a 64 KiB PUT of every byte value, GET, a chunked
/// POST) on one `HTTPConnection`: the same socket throughout, every response exact.
#[test]
fn python_http_client_persistent_connection() {
    assert_eq!(
        python_client("persistent"),
        "ok persistent 5 requests on one connection\n"
    );
}

/// Three requests in one `sendall` on a raw socket; `http.client` reads three responses in
/// order, then a fourth request on the same connection is answered and the server closes.
#[test]
fn python_pipelined_requests_in_order() {
    assert_eq!(
        python_client("pipeline"),
        "ok pipeline 3 responses in order\n"
    );
}

// ---------------------------------------------------------------------------------------
// Raw bytes from Rust

/// A malformed request gets 400 and its connection closes, nothing after it answered; a
/// keep-alive connection opened before it and new connections after it are still served.
#[test]
fn malformed_request_gets_400_and_the_server_keeps_serving() {
    let mut server = Server::start("echo");
    let mut before = server.connect();
    let mut pending = Vec::new();
    before
        .write_all(b"GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut before, &mut pending, "GET");
    assert_eq!((r.status, r.header("X-Path")), (200, Some("/before")));

    let malformed: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ];
    for bad in malformed {
        let mut s = server.connect();
        s.write_all(bad).unwrap();
        // Pipelined behind it: never parsed.
        s.write_all(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let all = read_to_eof(&mut s);
        let (responses, rest) = parse_responses(&all, &["GET"]);
        let text = String::from_utf8_lossy(&all);
        assert!(rest.is_empty(), "{text}");
        assert_eq!(
            responses.len(),
            1,
            "{:?} got: {text}",
            String::from_utf8_lossy(bad)
        );
        assert_eq!(responses[0].status, 400, "{text}");
        assert_eq!(responses[0].header("Connection"), Some("close"), "{text}");
        assert!(is_current_date(responses[0].header("Date")), "{text}");
        assert!(!text.contains("/after"), "{text}");
    }

    // A 400 on a connection that served a request a while ago carries the time of the 400
    // (RFC 9110 §6.6.1: every 4xx has a Date), not the Date of that earlier response.
    let mut stale = server.connect();
    let mut stale_pending = Vec::new();
    stale
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let first = read_response(&mut stale, &mut stale_pending, "GET");
    thread::sleep(Duration::from_millis(1100));
    stale
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n")
        .unwrap();
    let r = read_response(&mut stale, &mut stale_pending, "GET");
    assert_eq!(r.status, 400);
    assert!(is_current_date(r.header("Date")), "{:?}", r.header("Date"));
    assert_ne!(r.header("Date"), first.header("Date"));

    // The connection from before is still served, and so are new ones.
    before
        .write_all(b"POST /still HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        .unwrap();
    let r = read_response(&mut before, &mut pending, "POST");
    assert_eq!((r.status, r.header("X-Path")), (200, Some("/still")));
    assert_eq!(r.body, b"ok");
    let r = server.get("/new");
    assert_eq!((r.status, r.header("X-Path")), (200, Some("/new")));
    server.assert_running();
}

/// Is `date` the IMF-fixdate of now (give or take a second)?
fn is_current_date(date: Option<&str>) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    (now - 1..=now + 1).any(|t| date.map(str::as_bytes) == Some(&wsgiref::format_date_time(t)[..]))
}

/// `Connection: close` (and HTTP/1.0 without keep-alive) ends the connection after its
/// response: a request pipelined behind it is never answered.
#[test]
fn request_after_connection_close_is_never_answered() {
    let mut server = Server::start("echo");
    let cases: [(&[u8], &str); 3] = [
        (
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
            "/a",
        ),
        (
            b"POST /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
            "/a",
        ),
        (b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n", "/a"),
    ];
    for (request, path) in cases {
        let mut s = server.connect();
        s.write_all(request).unwrap();
        let all = read_to_eof(&mut s);
        let text = String::from_utf8_lossy(&all);
        let responses = parse_responses(&all, &["GET"]).0;
        assert_eq!(responses.len(), 1, "{text}");
        assert_eq!(responses[0].status, 200, "{text}");
        assert_eq!(responses[0].header("X-Path"), Some(path), "{text}");
        assert!(!text.contains("/b"), "{text}");
        if request.starts_with(b"POST") {
            assert_eq!(responses[0].body, b"abc");
        }
    }
    // Half-closing after Connection: close still gets the whole response.
    let mut s = server.connect();
    s.write_all(b"GET /half HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let all = read_to_eof(&mut s);
    let responses = parse_responses(&all, &["GET"]).0;
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].header("X-Path"), Some("/half"));
    server.assert_running();
}

/// Request smuggling attempts: ambiguous or unsupported framing is answered 400 or 501
/// (as RFC 9112 §6.3 says), the connection closes, and the request hidden behind the
/// attempt is never answered.
#[test]
fn smuggling_attempts_are_rejected() {
    let mut server = Server::start("echo");
    const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases: &[(&str, &str, u16)] = &[
        (
            "CL then TE",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE then CL",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE: gzip",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
        ),
        (
            "TE: gzip, chunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (
            "TE: chunked, gzip",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE: chunked twice",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE: xchunked",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "space before the colon",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "obs-fold",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "TE on HTTP/1.0",
            "POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            "two Content-Lengths",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 0\r\n\r\n",
            400,
        ),
        (
            "Content-Length: +5",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
            400,
        ),
        (
            "bad chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            "chunk size overflow",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
            400,
        ),
        (
            "bare LF after the chunk size",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n",
            400,
        ),
        // The echo reads its first block (8 KiB) to the end of a shorter body before it
        // answers, so an error anywhere in such a body comes before its head: a 400.
        (
            "no CRLF after the chunk data",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdX\r\n0\r\n\r\n",
            400,
        ),
        (
            "a bad chunk size after a good chunk",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nZZ\r\nhello\r\n0\r\n\r\n",
            400,
        ),
    ];
    for &(name, attempt, status) in cases {
        let mut s = server.connect();
        s.write_all(attempt.as_bytes()).unwrap();
        s.write_all(SMUGGLED.as_bytes()).unwrap();
        let all = read_to_eof(&mut s);
        let text = String::from_utf8_lossy(&all);
        let responses = parse_responses(&all, &["POST"]).0;
        assert_eq!(responses.len(), 1, "{name}: {text}");
        assert_eq!(responses[0].status, status, "{name}: {text}");
        assert_eq!(responses[0].header("Connection"), Some("close"), "{name}");
        assert!(!text.contains("smuggled"), "{name}: {text}");
    }
    // A bad chunk after a whole first block (8 KiB): the echo has sent its head and that
    // block, so the error can only cut the response short: no last chunk, then close.
    let mut s = server.connect();
    let block = "a".repeat(8192);
    let cut = format!(
        "POST /cut HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n{block}\r\nZZ\r\nhello\r\n0\r\n\r\n"
    );
    s.write_all(cut.as_bytes()).unwrap();
    s.write_all(SMUGGLED.as_bytes()).unwrap();
    let all = read_to_eof(&mut s);
    let text = String::from_utf8_lossy(&all);
    let e = parse_one(&all, "POST", true).expect_err("a response cut short");
    assert!(e.starts_with("truncated"), "{e}: {text}");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with(&format!("\r\n\r\n2000\r\n{block}\r\n")),
        "{text}"
    );
    assert!(!text.contains("smuggled"), "{text}");

    // And the server is fine.
    let r = server.get("/after");
    assert_eq!((r.status, r.header("X-Path")), (200, Some("/after")));
    server.assert_running();
}

/// The core accepts 8000-octet request-targets by default (RFC 9112 §3 recommends at least
/// that); the echo sends the path back in `X-Path`, so the response head must fit too.
#[test]
fn an_8000_octet_target_is_echoed_back() {
    let mut server = Server::start("echo");
    let path = format!("/{}", "p".repeat(7999));
    let r = server.get(&path);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Path"), Some(path.as_str()));
    // A request line over the limit (16 KiB by default) is refused with 414, and the
    // server goes on.
    let mut s = server.connect();
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "p".repeat(20_000));
    s.write_all(long.as_bytes()).unwrap();
    let all = read_to_eof(&mut s);
    let responses = parse_responses(&all, &["GET"]).0;
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].status, 414);
    let r = server.get("/after");
    assert_eq!((r.status, r.header("X-Path")), (200, Some("/after")));
    server.assert_running();
}

// ---------------------------------------------------------------------------------------
// nginx

/// A TCP relay in front of the server that counts the connections it relays: what the
/// server sees of nginx's upstream connections.
struct CountingRelay {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl CountingRelay {
    fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        // Runs until the test process exits; each relayed connection ends with its peers.
        thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(down) = incoming else { continue };
                let Ok(up) = TcpStream::connect(to) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (down2, up2) = (down.try_clone().unwrap(), up.try_clone().unwrap());
                thread::spawn(move || pipe(down, up));
                thread::spawn(move || pipe(up2, down2));
            }
        });
        Self { addr, connections }
    }
}

/// Copies `from` to `to` until EOF, then half-closes `to`.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn find_nginx() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d: PathBuf| d.join("nginx"));
    for path in candidates {
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "nginx is not installed: this test needs it (apt-get install nginx; CI's .ci/run installs it)"
    );
}

/// Request body sizes through nginx, up to 64 KiB: the server answers a streamed echo with
/// `Connection: close` when more than 64 KiB (`Limits::max_drain`) of the body is still
/// unread as the head goes out, which would end the upstream connection each time.
const POST_SIZES: [usize; 7] = [0, 1, 100, 5000, 16 * 1024 + 1, 40_000, 64 * 1024];

/// nginx on 127.0.0.1 proxies to the server with upstream keep-alive: 52 requests (GET and
/// POST, bodies up to 64 KiB, from 4 clients at once, each request a new client
/// connection to nginx) all come back exact, and the server sees only a few connections.
#[test]
fn nginx_reverse_proxy_with_upstream_keep_alive() {
    let nginx = find_nginx();
    let mut server = Server::start("echo");
    let relay = CountingRelay::start(server.addr);
    let dir = TempDir::new("nginx");
    let nginx_port = free_port();
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 1;
# Run as root, workers write their temp files under the test's dir (ignored, with a
# warning, when the test does not run as root).
user root;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 4m;
    upstream wsgiref {{
        server {relay};
        keepalive 8;
        # Below the server's 5 s idle keep-alive deadline.
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://wsgiref;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }}
    }}
}}
",
        relay = relay.addr
    );
    fs::write(dir.file("nginx.conf"), conf).unwrap();
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.file("error.log"))
        .arg("-c")
        .arg(dir.file("nginx.conf"))
        .arg("-g")
        .arg(format!("daemon off; pid {d}/nginx.pid;"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(dir.file("nginx.stderr")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} ({e})", nginx.display()));
    let mut guard = ChildGuard {
        child,
        name: "nginx",
        log: Some(dir.file("nginx.stderr")),
        terminate: true,
    };
    let nginx_addr = SocketAddr::from(([127, 0, 0, 1], nginx_port));
    assert!(
        wait_accepting(nginx_addr, &mut guard),
        "nginx exited: {}\n{}",
        guard.log_text(),
        fs::read_to_string(dir.file("error.log")).unwrap_or_default()
    );

    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let dir = dir.path().to_path_buf();
            let failures = Arc::clone(&failures);
            thread::spawn(move || {
                for i in 0..13 {
                    let n = client * 13 + i;
                    let url = format!("http://{nginx_addr}/p/{n}?client={client}&i={i}");
                    let head_file = dir.join(format!("head-{n}"));
                    let out_file = dir.join(format!("out-{n}"));
                    let in_file = dir.join(format!("in-{n}"));
                    let head_arg = head_file.display().to_string();
                    let out_arg = out_file.display().to_string();
                    let data_arg = format!("@{}", in_file.display());
                    let post = n % 2 == 1;
                    // Bodies from empty to 64 KiB.
                    let body = if post {
                        pattern(POST_SIZES[n % POST_SIZES.len()], n as u64)
                    } else {
                        Vec::new()
                    };
                    let mut args = vec!["-D", &head_arg, "-o", &out_arg, "-w", "%{http_code}"];
                    if post {
                        fs::write(&in_file, &body).unwrap();
                        args.extend(["-H", "Expect:", "--data-binary", &data_arg]);
                    }
                    args.push(&url);
                    let out = curl(&args);
                    let head = fs::read_to_string(&head_file).unwrap_or_default();
                    let got = fs::read(&out_file).unwrap_or_default();
                    let method = if post { "POST" } else { "GET" };
                    let query = format!("client={client}&i={i}");
                    let path = format!("/p/{n}");
                    let length = if post { body.len().to_string() } else { String::new() };
                    let ok = out.stdout == b"200"
                        && header(&head, "X-Method") == Some(method)
                        && header(&head, "X-Path") == Some(&path)
                        && header(&head, "X-Query") == Some(&query)
                        && header(&head, "X-Content-Length").unwrap_or("") == length
                        && got == body;
                    if !ok {
                        failures.lock().unwrap().push(format!(
                            "request {n} ({method}, {} bytes): status {:?}, {} bytes back, head:\n{head}",
                            body.len(),
                            String::from_utf8_lossy(&out.stdout),
                            got.len()
                        ));
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client thread panicked");
    }
    guard.assert_running();
    server.assert_running();
    let failures = failures.lock().unwrap();
    let errors = fs::read_to_string(dir.file("error.log")).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "{} of 52 requests through nginx were wrong:\n{}\nnginx error.log:\n{errors}",
        failures.len(),
        failures.join("\n")
    );
    let connections = relay.connections.load(Ordering::SeqCst);
    eprintln!("52 requests through nginx over {connections} upstream connections");
    assert!(
        (1..=4).contains(&connections),
        "nginx opened {connections} upstream connections for 52 requests from 4 clients at once: \
         connections were not reused, or the server closed some"
    );
    assert!(
        !["[error]", "[crit]", "[alert]", "[emerg]"]
            .iter()
            .any(|level| errors.contains(level)),
        "nginx logged errors:\n{errors}"
    );
}

// ---------------------------------------------------------------------------------------
// The other applications

/// `demo_app`'s page (the environ, one variable a line), and the validator around `echo`:
/// a correct exchange passes it silently and comes back intact.
#[test]
fn demo_app_and_the_validator() {
    let mut server = Server::start("demo");
    let page = server.get("/some/where?q=1");
    assert_eq!(page.status, 200);
    let text = String::from_utf8(page.body).expect("a UTF-8 page");
    assert!(text.starts_with("Hello world!\n\n"), "{text}");
    for line in [
        "PATH_INFO = '/some/where'\n",
        "QUERY_STRING = 'q=1'\n",
        "REQUEST_METHOD = 'GET'\n",
        "HTTP_HOST = '127.0.0.1'\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    server.assert_running();

    let mut server = Server::start_with("echo", true);
    let body = pattern(5000, 7);
    let mut s = server.connect();
    s.write_all(
        format!(
            "POST /v?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let all = read_to_eof(&mut s);
    let (responses, _) = parse_responses(&all, &["POST"]);
    let response = responses.into_iter().next().expect("one response");
    assert_eq!(response.status, 200, "{}", server.guard.log_text());
    assert_eq!(response.body, body);
    assert_eq!(response.header("X-Path"), Some("/v"));
    server.assert_running();
    let log = server.guard.log_text();
    assert!(!log.contains("Error"), "the validator complained:\n{log}");
}
