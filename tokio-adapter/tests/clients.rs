//! Real clients over real sockets on 127.0.0.1 against `wsgiref_tokio::serve`: curl, Python's
//! `http.client` (`scripts/it-http-client.py`), and raw bytes from Rust, through the
//! library API. The std server's real-client suite (`std-adapter/tests/common/clients.rs`)
//! runs against the `wsgiref-tokio` command in `tests/suite.rs` and `tests/suite_inline.rs`;
//! this file adds what the tokio adapter adds (deadlines on tokio timers, the connection
//! limit, graceful shutdown, blocking applications off the runtime's workers) and the
//! applications' details.
//!
//! Each test starts its own server on its own multi-thread runtime, in a thread of the
//! test, on a listener bound to port 0, and shuts it down when it ends. The apps are those
//! of the `wsgiref` command (`wsgiref_std::apps::AnyApp`): echo answers 200 with the request
//! body read through `wsgi.input` and the headers `X-Method`, `X-Path`, `X-Query`,
//! `X-Content-Length`; hello answers `Hello World`.
//!
//! Needs `curl` and `python3` on the machine (`.ci/run` installs them); a missing one fails
//! its test with a message saying so.

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use wsgiref::app::{AppError, Application, Bytes, Request, StartResponse};
use wsgiref::validate::Validator;
use wsgiref_std::apps::AnyApp;
use wsgiref_tokio::{Execution, RequestHandler, ServerConfig};

#[path = "../../std-adapter/tests/common/http.rs"]
mod http;
use http::*;
#[path = "../../std-adapter/tests/common/slow.rs"]
mod slow;

// ---------------------------------------------------------------------------------------
// Harness: the server on its own runtime, temp dirs, clients.

/// The latest a 300 ms deadline of the tests may fire on a loaded machine: far below the
/// defaults (5 s idle, 10 s first byte and head) the configured values replace.
const DEADLINE_SLACK: Duration = Duration::from_secs(4);

/// A request handler that keeps everything written to `get_stderr` (access log, errors).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

impl Capture {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

impl RequestHandler for Capture {
    fn get_stderr(&self, text: fmt::Arguments<'_>) {
        let _ = self.0.lock().unwrap().write_fmt(text);
    }
}

/// A server on a multi-thread runtime of its own, in a thread; shut down on drop.
struct Server {
    addr: SocketAddr,
    log: Capture,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// What `serve` returned, once it has.
    done: mpsc::Receiver<Result<(), String>>,
}

impl Server {
    fn start<A: Application + Send + Sync + 'static>(app: A, config: ServerConfig) -> Self {
        Self::start_on(app, config, 2)
    }

    /// On a runtime with `workers` worker threads.
    fn start_on<A: Application + Send + Sync + 'static>(
        app: A,
        config: ServerConfig,
        workers: usize,
    ) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let log = Capture::default();
        let handler = log.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done_sender, done) = mpsc::channel();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("a runtime");
            let result = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                wsgiref_tokio::serve(listener, app)
                    .config(config)
                    .handler(handler)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
            });
            let _ = done_sender.send(result.map_err(|e| e.to_string()));
            // Tasks still inside an application (aborted at shutdown) end on their own.
            runtime.shutdown_background();
        });
        Self {
            addr,
            log,
            stop: Some(stop),
            done,
        }
    }

    /// Signals the shutdown; the result of `serve` (bounded wait).
    fn shutdown(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done
            .recv_timeout(Duration::from_secs(20))
            .expect("serve returned after the shutdown")
    }

    /// Fails the test if `serve` has returned (it only does after a shutdown).
    fn assert_running(&self) {
        if let Ok(result) = self.done.try_recv() {
            panic!("the server stopped: {result:?}\nlog:\n{}", self.log.text());
        }
    }

    fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// One fresh connection, one GET, the whole response.
    fn get(&self, target: &str) -> Response {
        get(self.addr, target)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = self.done.recv_timeout(Duration::from_secs(20));
        }
        if thread::panicking() {
            eprintln!("--- server log ---\n{}--- end ---", self.log.text());
        }
    }
}

/// A quiet configuration (no access log).
fn quiet() -> ServerConfig {
    ServerConfig {
        quiet: true,
        ..ServerConfig::default()
    }
}

/// Waits (bounded by `IO_TIMEOUT`) for the server to close `stream`; returns how long it
/// took and the bytes that came before the end.
fn wait_for_close(stream: &mut TcpStream) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let all = read_to_eof(stream);
    (start.elapsed(), all)
}

// ---------------------------------------------------------------------------------------
// Raw bytes from Rust (curl keep-alive, chunked upload, 100-continue, http.client and
// malformed requests are the shared suite's, run against this adapter by tests/suite.rs
// and tests/suite_inline.rs)

/// Three requests in one write (GET, POST with a body, HEAD-less DELETE that closes): three
/// responses, in order, each for its own request, then the close.
#[test]
fn pipelined_raw_requests_answered_in_order() {
    let server = Server::start(AnyApp::Echo, quiet());
    let mut s = server.connect();
    s.write_all(
        b"GET /one?a=1 HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world\
          DELETE /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_to_eof(&mut s);
    let (responses, rest) = parse_responses(&all, &["GET"]);
    let text = String::from_utf8_lossy(&all);
    assert!(rest.is_empty(), "{text}");
    let got: Vec<_> = responses
        .iter()
        .map(|r| {
            (
                r.status,
                r.header("X-Method").unwrap_or(""),
                r.header("X-Path").unwrap_or(""),
                r.header("X-Query").unwrap_or(""),
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (200, "GET", "/one", "a=1", String::new()),
            (200, "POST", "/two", "", "hello world".to_string()),
            (200, "DELETE", "/three", "", String::new()),
        ],
        "{text}"
    );
    assert_eq!(responses[2].header("Connection"), Some("close"), "{text}");
}

/// `demo_app`: the page of `simple_server`, with the environ this adapter builds.
#[test]
fn demo_app_page() {
    let server = Server::start(AnyApp::Demo, quiet());
    let r = server.get("/some/caf%C3%A9?q=1");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "{}",
        r.head
    );
    assert_eq!(
        r.header("Content-Length"),
        Some(r.body.len().to_string().as_str())
    );
    let page = String::from_utf8(r.body).expect("UTF-8 page");
    assert!(page.starts_with("Hello world!\n\n"), "{page}");
    for line in [
        // Percent-decoded, and shown as WSGI's latin-1 text, as CPython's demo_app does.
        "PATH_INFO = '/some/caf\u{c3}\u{a9}'",
        "QUERY_STRING = 'q=1'",
        "REQUEST_METHOD = 'GET'",
        "SERVER_NAME = '127.0.0.1'",
        &format!("SERVER_PORT = '{}'", server.addr.port()),
        "SERVER_PROTOCOL = 'HTTP/1.1'",
        "REMOTE_ADDR = '127.0.0.1'",
        "wsgi.multithread = True",
    ] {
        assert!(
            page.lines().any(|l| l == line),
            "no line {line:?} in:\n{page}"
        );
    }
}

/// The files app (`files=DIR`, sent with `sendfile(2)`): a 1 MiB file comes back exact
/// with its length and type; HEAD has the same head and no body; a missing file is 404.
/// An 8 MiB file to a client with an 8 KiB receive buffer that starts reading late (the
/// socket fills up, sendfile waits for it) comes back exact too.
#[test]
fn files_app_serves_a_file() {
    let dir = TempDir::new("files");
    let data = pattern(1 << 20, 4);
    fs::write(dir.file("data.bin"), &data).unwrap();
    let big = pattern(8 << 20, 5);
    fs::write(dir.file("big.bin"), &big).unwrap();
    let app = AnyApp::Files(wsgiref_std::apps::FileApp::new(&dir.0).unwrap());
    let server = Server::start(app, quiet());
    let mut s = server.connect();
    s.write_all(
        b"GET /data.bin HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /data.bin HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_to_eof(&mut s);
    let (responses, rest) = parse_responses(&all, &["GET", "HEAD", "GET"]);
    assert!(rest.is_empty());
    assert_eq!(responses.len(), 3);
    let length = data.len().to_string();
    assert_eq!(responses[0].status, 200);
    assert_eq!(responses[0].header("Content-Length"), Some(length.as_str()));
    assert_eq!(
        responses[0].header("Content-Type"),
        Some("application/octet-stream")
    );
    assert!(responses[0].body == data, "the file differs");
    assert_eq!(responses[1].status, 200);
    assert_eq!(responses[1].header("Content-Length"), Some(length.as_str()));
    assert!(responses[1].body.is_empty());
    assert_eq!(responses[2].status, 404);

    let mut s = connect_small_buffer(server.addr);
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    let all = read_to_eof(&mut s);
    let (responses, rest) = parse_responses(&all, &["GET"]);
    assert!(rest.is_empty());
    assert_eq!(responses[0].status, 200);
    assert!(responses[0].body == big, "the big file differs");
}

/// Responds 200 without a Content-Type: fine for the gateway, a PEP 3333 violation for
/// the validator.
fn no_content_type(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start("200 OK", &[("X-Greeting", "hi")])?;
    Ok(Bytes::new(b"hi"))
}

/// The validator around an application: a conforming one (echo) is served as it is; a
/// violation becomes the 500 error output and its message is logged, while the same app
/// without the validator is answered 200.
#[test]
fn validator_wrapped_apps() {
    let server = Server::start(Validator::new(AnyApp::Echo), quiet());
    let mut s = server.connect();
    s.write_all(
        b"PUT /v?x=y HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .unwrap();
    let all = read_to_eof(&mut s);
    let (responses, _) = parse_responses(&all, &["PUT"]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].status, 200, "{}", server.log.text());
    assert_eq!(responses[0].body, b"hello");
    assert_eq!(responses[0].header("X-Query"), Some("x=y"));
    assert_eq!(server.log.text(), "", "the validator complained");

    let plain = Server::start(no_content_type, quiet());
    let r = plain.get("/");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hi"[..]));

    let validated = Server::start(Validator::new(no_content_type), quiet());
    let r = validated.get("/");
    assert_eq!(r.status, 500, "{}", r.head);
    assert_eq!(
        r.body,
        b"A server error occurred.  Please contact the administrator."
    );
    let log = validated.log.text();
    assert!(
        log.contains("AssertionError: No Content-Type header found in headers"),
        "{log}"
    );
    // And it keeps serving.
    assert_eq!(validated.get("/again").status, 500);
    validated.assert_running();
}

/// An application that panics gets the 500 error output; the panic is logged and the
/// server keeps serving (the next request on a new connection is answered).
#[test]
fn application_panic_is_a_500_and_the_server_keeps_serving() {
    fn app(
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        if req.environ.get("PATH_INFO") == Some(b"/panic") {
            // A panic without the panic hook (no backtrace printed, which can take
            // seconds on a loaded machine); caught the same way.
            std::panic::resume_unwind(Box::new("boom in the application"));
        }
        start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Bytes::new(b"fine"))
    }
    let server = Server::start(app, quiet());
    let r = server.get("/panic");
    assert_eq!(r.status, 500, "{}", r.head);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(
        server
            .log
            .text()
            .contains("application panicked: boom in the application"),
        "{}",
        server.log.text()
    );
    let r = server.get("/ok");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"fine"[..]));
    server.assert_running();
}

/// One access-log line per request in `simple_server`'s format, written through the
/// handler's `log_request`, with the request line as received (before, rebuilt from the
/// decoded path) and also for a request the server rejects itself (before, none); none
/// with `quiet`.
#[test]
fn access_log_lines_and_quiet() {
    let server = Server::start(AnyApp::Hello, ServerConfig::default());
    let mut s = server.connect();
    let mut pending = Vec::new();
    s.write_all(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, &mut pending, "GET").status, 200);
    s.write_all(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, &mut pending, "HEAD").status, 200);
    // The line as received (not rebuilt from the decoded path), escaped as `http.server`
    // escapes it; and a request the server rejects itself, with `-` for its size.
    s.write_all(b"GET /%2F\xe9\\ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, &mut pending, "GET").status, 200);
    s.write_all(b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, &mut pending, "GET").status, 400);
    // A line is written once its response is sent: wait for the last (bounded).
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.log.text().lines().count() < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let log = server.log.text();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    let check = |line: &str, request: &str, status: u16, bytes: &str| {
        // 127.0.0.1 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 11
        let (prefix, rest) = line.split_once(" [").expect("a [date]");
        assert_eq!(prefix, "127.0.0.1 - -", "{line}");
        let (date, rest) = rest.split_once("] ").expect("a [date]");
        assert_eq!(date.len(), "24/Nov/2026 10:00:00".len(), "{line}");
        assert_eq!(rest, format!("\"{request}\" {status} {bytes}"), "{line}");
    };
    check(lines[0], "GET /a%20b?x=1 HTTP/1.1", 200, "11");
    check(lines[1], "HEAD /h HTTP/1.1", 200, "0");
    check(lines[2], "GET /%2F\u{e9}\\\\ HTTP/1.1", 200, "11");
    check(lines[3], "GET /a\\x01 HTTP/1.1", 400, "-");

    let quiet_server = Server::start(AnyApp::Hello, quiet());
    assert_eq!(quiet_server.get("/").status, 200);
    assert_eq!(quiet_server.log.text(), "");
}

// ---------------------------------------------------------------------------------------
// Deadlines on tokio timers

/// A keep-alive connection left idle after a response is closed at the configured idle
/// deadline (300 ms): not before, and well before the 10 s the client would wait. The idle
/// time starts when the server has sent the response, which is after the request was sent
/// and before the client has read the response (a busy machine can delay that read), so the
/// wait is measured from the request.
#[test]
fn idle_keep_alive_connection_is_closed_at_its_deadline() {
    let mut config = quiet();
    config.timeouts.keep_alive = Duration::from_millis(300);
    let server = Server::start(AnyApp::Hello, config);
    let mut s = server.connect();
    let mut pending = Vec::new();
    let sent = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut s, &mut pending, "GET");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), None, "keep-alive expected");
    let (_, rest) = wait_for_close(&mut s);
    let waited = sent.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        waited >= Duration::from_millis(290) && waited < DEADLINE_SLACK,
        "closed {waited:?} after the request"
    );
}

/// A head that stops arriving is answered `408` at the head deadline; a connection that
/// never sends a byte is closed at the first-byte deadline, silently.
#[test]
fn slow_head_gets_408_and_silent_connection_is_closed() {
    let mut config = quiet();
    config.timeouts.head = Duration::from_millis(300);
    config.timeouts.first_byte = Duration::from_millis(300);
    let server = Server::start(AnyApp::Hello, config);

    let mut s = server.connect();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (waited, all) = wait_for_close(&mut s);
    let (responses, _) = parse_responses(&all, &["GET"]);
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].status, 408);
    assert!(
        waited >= Duration::from_millis(250) && waited < DEADLINE_SLACK,
        "answered after {waited:?}"
    );

    let mut silent = server.connect();
    let (waited, all) = wait_for_close(&mut silent);
    assert!(all.is_empty(), "{:?}", String::from_utf8_lossy(&all));
    assert!(
        waited >= Duration::from_millis(250) && waited < DEADLINE_SLACK,
        "closed after {waited:?}"
    );
}

/// Reads the whole request body before answering with its length: a body that stops
/// arriving fails the read (inside `block_in_place`, on a tokio timeout) with `408`.
fn read_all_then_answer(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<Vec<u8>>, AppError> {
    let mut total = 0usize;
    let mut buf = [0u8; 1024];
    loop {
        let n = embedded_io::Read::read(req.input, &mut buf)
            .map_err(|_| AppError::with_kind("OSError", "reading wsgi.input failed"))?;
        if n == 0 {
            break;
        }
        total += n;
    }
    start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
    Ok(Bytes::new(total.to_string().into_bytes()))
}

/// The body deadline while the application reads `wsgi.input`: 3 of 10 bytes, then
/// nothing: `408` after the 300 ms body deadline; a complete body on the next connection is
/// read whole.
#[test]
fn stalled_body_read_gets_408() {
    let mut config = quiet();
    config.timeouts.body = Duration::from_millis(300);
    let server = Server::start(read_all_then_answer, config);
    let mut s = server.connect();
    s.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let (waited, all) = wait_for_close(&mut s);
    let (responses, _) = parse_responses(&all, &["POST"]);
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].status, 408, "{}", responses[0].head);
    assert!(
        waited >= Duration::from_millis(250) && waited < DEADLINE_SLACK,
        "answered after {waited:?}"
    );

    let mut s = server.connect();
    let r = post_in_two_parts(&mut s);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"10"[..]));
}

/// A POST of 10 bytes whose body comes in two writes 50 ms apart; the response.
fn post_in_two_parts(s: &mut TcpStream) -> Response {
    s.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    thread::sleep(Duration::from_millis(50));
    s.write_all(b"defghij").unwrap();
    read_response(s, &mut Vec::new(), "POST")
}

/// An application that fails before its head is sent.
fn fails(
    _req: &mut Request<'_, '_>,
    _start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    Err(AppError::new("failed before the head"))
}

/// `ServerConfig::http_version` and `error_output` (`BaseHandler.http_version`,
/// `error_status`, `error_headers`, `error_body`) reach the responses.
#[test]
fn http_version_and_error_output_are_settings() {
    let config = ServerConfig {
        http_version: wsgiref::Version::Http10,
        error_output: wsgiref::handler::ErrorOutput {
            status: "503 Try Later",
            headers: &[("Content-Type", "text/html")],
            body: b"<p>later</p>",
        },
        ..quiet()
    };
    let server = Server::start(fails, config);
    let mut s = server.connect();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (_, all) = wait_for_close(&mut s);
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.0 503 Try Later\r\n"), "{text}");
    assert!(text.contains("\r\nContent-Type: text/html\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n<p>later</p>"), "{text}");
}

/// An application that fails after writing part of its body with an error of a disconnect
/// kind (`ConnectionResetError` from an upstream, say), while its client is still there.
fn upstream_reset_midway(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
    start_response.write(b"partial")?;
    Err(AppError::with_kind(
        "ConnectionResetError",
        "upstream reset",
    ))
}

/// An application that fails after writing part of its body.
fn fails_midway(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
    start_response.write(b"partial")?;
    Err(AppError::new("failed after the head"))
}

/// RFC 9112 §8: a body only the close delimits (an HTTP/1.0 client) is complete after a
/// FIN; cut short after its head, the response ends with a reset, after what was sent, so
/// the client can tell (`Connection::must_reset`). A 1.1 client's chunked response shows
/// the cut by its missing last chunk, and closes gracefully. Both executions; an error of
/// a disconnect kind too (the connection is dropped then, as if the client were gone). Before,
/// all ended with a FIN.
#[test]
fn a_close_delimited_response_cut_short_ends_with_a_reset() {
    type App =
        fn(&mut Request<'_, '_>, &mut StartResponse<'_>) -> Result<Bytes<&'static [u8]>, AppError>;
    let apps: [App; 2] = [fails_midway, upstream_reset_midway];
    for (execution, app) in [Execution::BlockInPlace, Execution::Inline]
        .into_iter()
        .flat_map(|e| apps.map(|a| (e, a)))
    {
        let server = Server::start(
            app,
            ServerConfig {
                execution,
                ..quiet()
            },
        );
        for (request, reset) in [
            (&b"GET / HTTP/1.0\r\n\r\n"[..], true),
            (&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..], false),
        ] {
            let mut s = server.connect();
            s.write_all(request).unwrap();
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let ended_with_reset = loop {
                match s.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
                    Err(e) => panic!("{e} after {all:?}"),
                }
            };
            let text = String::from_utf8_lossy(&all);
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
            assert!(text.contains("partial"), "{execution:?} {text}");
            assert_eq!(ended_with_reset, reset, "{execution:?} {text}");
        }
        server.assert_running();
    }
}

/// Every timeout at `Duration::MAX` (a way to say "none"), under both executions: a body
/// read through the waits, the response written, the server stops without a panic. (Before
/// session 6's fix, the deadline of the body read overflowed tokio's `Instant`.)
#[test]
fn timeouts_of_duration_max_mean_none() {
    for execution in [Execution::BlockInPlace, Execution::Inline] {
        let mut config = ServerConfig {
            execution,
            write_timeout: Duration::MAX,
            shutdown_timeout: Duration::MAX,
            ..ServerConfig::default()
        };
        config.timeouts.first_byte = Duration::MAX;
        config.timeouts.keep_alive = Duration::MAX;
        config.timeouts.head = Duration::MAX;
        config.timeouts.body = Duration::MAX;
        let mut server = Server::start(read_all_then_answer, config);
        let mut s = server.connect();
        let r = post_in_two_parts(&mut s);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"10"[..]),
            "{execution:?}"
        );
        // A second request on the same connection: the keep-alive wait had no deadline.
        s.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
            .unwrap();
        let r = read_response(&mut s, &mut Vec::new(), "POST");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"2"[..]),
            "{execution:?}"
        );
        drop(s);
        server.assert_running();
        assert_eq!(server.shutdown(), Ok(()), "{execution:?}");
        let log = server.log.text();
        assert!(!log.contains("panicked"), "{execution:?}: {log}");
    }
}

/// An 8 MiB response (`/small`: 5 bytes), more than the socket buffers hold when the
/// client's receive buffer is small.
fn huge(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<Vec<u8>>, AppError> {
    start_response.start("200 OK", &[("Content-Type", "application/octet-stream")])?;
    let len = if req.environ.get("PATH_INFO") == Some(b"/small") {
        5
    } else {
        HUGE
    };
    Ok(Bytes::new(vec![b'x'; len]))
}

const HUGE: usize = 8 << 20;

/// A connection whose receive buffer is 8 KiB (fixed: no autotuning), so a client that
/// does not read stops the server's writes after a few hundred KiB.
fn connect_small_buffer(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        socket.connect(addr).await.expect("connect to the server")
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// A client that stops reading a large response is cut off once the socket has taken
/// nothing for `write_timeout` (300 ms; the application's write blocks a thread, not a
/// worker, on a tokio timeout): it gets part of the response, then the end of the
/// connection, instead of the whole response on a connection kept open.
#[test]
fn client_that_stops_reading_is_cut_off_after_write_timeout() {
    let config = ServerConfig {
        write_timeout: Duration::from_millis(300),
        ..quiet()
    };
    let server = Server::start(huge, config);
    let mut s = connect_small_buffer(server.addr);
    s.write_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_secs(3));
    let start = Instant::now();
    let all = read_to_eof(&mut s);
    assert!(
        all.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&all[..all.len().min(200)])
    );
    assert!(
        all.len() < HUGE,
        "the whole response ({} bytes) was sent to a client that did not read",
        all.len()
    );
    assert!(start.elapsed() < DEADLINE_SLACK, "{:?}", start.elapsed());
    // The server is fine.
    let r = server.get("/small");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"xxxxx"[..]));
}

/// A client that reads steadily but slowly is not cut off, however long its response takes:
/// the write timeout counts time without progress, in both executions. (Linux reports the
/// socket writable only once a third of its send buffer is free, so waiting for that alone
/// cut such a client off once the buffer had grown large.)
#[test]
fn a_slow_steady_reader_gets_its_whole_response() {
    for execution in [Execution::BlockInPlace, Execution::Inline] {
        let config = ServerConfig {
            execution,
            write_timeout: Duration::from_millis(300),
            ..quiet()
        };
        let server = Server::start(huge, config);
        let mut s = server.connect();
        s.write_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // About 2.5 MB/s: 8 MiB take over three seconds, ten times the write timeout.
        let started = Instant::now();
        let (head, body) = slow::read_slowly(&mut s, 2.5e6).unwrap();
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\n"),
            "{execution:?}: {head}"
        );
        assert_eq!(body.len(), HUGE, "{execution:?}");
        assert!(body.iter().all(|&b| b == b'x'), "{execution:?}");
        assert!(
            started.elapsed() > Duration::from_secs(3),
            "read too fast to show anything"
        );
    }
    // The same by sendfile (the files application), on the default execution.
    let dir = TempDir::new("slow-file");
    let big = pattern(8 << 20, 6);
    fs::write(dir.file("big.bin"), &big).unwrap();
    let app = AnyApp::Files(wsgiref_std::apps::FileApp::new(&dir.0).unwrap());
    let config = ServerConfig {
        write_timeout: Duration::from_millis(300),
        ..quiet()
    };
    let server = Server::start(app, config);
    let mut s = server.connect();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, body) = slow::read_slowly(&mut s, 2.5e6).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body == big, "the file differs");
}

// ---------------------------------------------------------------------------------------
// The connection limit

/// With `max_connections = 1`, a second connection while the first is open gets `503`
/// with `Connection: close` and is closed; once the first closes, a new one is served.
#[test]
fn over_the_connection_limit_gets_503() {
    let config = ServerConfig {
        max_connections: 1,
        ..quiet()
    };
    let server = Server::start(AnyApp::Hello, config);
    let mut first = server.connect();
    let mut pending = Vec::new();
    first
        .write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Answered: the first connection holds the only slot now.
    assert_eq!(read_response(&mut first, &mut pending, "GET").status, 200);

    let mut second = server.connect();
    second
        .write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let all = read_to_eof(&mut second);
    let (responses, rest) = parse_responses(&all, &["GET"]);
    assert!(rest.is_empty());
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].status, 503);
    assert_eq!(responses[0].header("Connection"), Some("close"));
    assert_eq!(responses[0].header("Retry-After"), Some("1"));

    // The first is still served, then closes; its slot comes back.
    first
        .write_all(b"GET /1b HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut first, &mut pending, "GET").status, 200);
    first.shutdown(Shutdown::Both).unwrap();
    drop(first);
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let r = server.get("/3");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503);
        assert!(Instant::now() < deadline, "the slot never came back");
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Graceful shutdown

/// Signals `started` when called, then waits for `release` (a blocking wait, as blocking
/// applications do) and answers `slow`.
struct Gate {
    started: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Application for Gate {
    type Body = Bytes<&'static [u8]>;

    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Self::Body, AppError> {
        if req.environ.get("PATH_INFO") == Some(b"/slow") {
            let _ = self.started.lock().unwrap().send(());
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10));
            start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
            return Ok(Bytes::new(b"slow"));
        }
        start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Bytes::new(b"fast"))
    }
}

fn gate() -> (Gate, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (started, started_rx) = mpsc::channel();
    let (release_tx, release) = mpsc::channel();
    let gate = Gate {
        started: Mutex::new(started),
        release: Mutex::new(release),
    };
    (gate, started_rx, release_tx)
}

/// Shutdown with a request in flight and an idle keep-alive connection: the idle one is
/// closed at once, the listener stops accepting, the request in flight finishes with its
/// whole response, then its connection closes and `serve` returns `Ok`.
#[test]
fn graceful_shutdown_finishes_requests_in_flight() {
    let (app, started, release) = gate();
    let mut server = Server::start(app, quiet());
    let addr = server.addr;

    let mut idle = server.connect();
    let mut pending = Vec::new();
    idle.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle, &mut pending, "GET").body, b"fast");

    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("the slow request reached the application");

    // Shut down from another thread (`shutdown` waits for `serve` to return).
    let (result_tx, result_rx) = mpsc::channel();
    let stopper = thread::spawn(move || {
        let result = server.shutdown();
        let _ = result_tx.send(result);
        server
    });

    // The idle connection is closed without a response.
    let (waited, rest) = wait_for_close(&mut idle);
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(waited < DEADLINE_SLACK, "idle closed after {waited:?}");
    // New connections are refused once the listener is closed.
    let deadline = Instant::now() + IO_TIMEOUT;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        thread::sleep(Duration::from_millis(20));
    }
    // serve has not returned: a request is in flight.
    assert!(
        result_rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "serve returned with a request in flight"
    );

    release.send(()).unwrap();
    let all = read_to_eof(&mut busy);
    let (responses, rest) = parse_responses(&all, &["GET"]);
    assert!(rest.is_empty());
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(
        (responses[0].status, responses[0].body.as_slice()),
        (200, &b"slow"[..])
    );
    let result = result_rx
        .recv_timeout(IO_TIMEOUT)
        .expect("serve returned after the last request");
    assert_eq!(result, Ok(()));
    drop(stopper.join().unwrap());
}

/// An application that does not return within `shutdown_timeout` does not hold up the
/// shutdown: `serve` returns after the grace period and says what it aborted.
#[test]
fn shutdown_is_bounded_by_the_grace_period() {
    let (app, started, release) = gate();
    let config = ServerConfig {
        shutdown_timeout: Duration::from_millis(300),
        ..quiet()
    };
    let mut server = Server::start(app, config);
    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("in the application");
    let start = Instant::now();
    assert_eq!(server.shutdown(), Ok(()));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "serve returned after {took:?}"
    );
    assert!(
        server
            .log
            .text()
            .contains("1 connection(s) still open after 300ms, aborted"),
        "{}",
        server.log.text()
    );
    release.send(()).unwrap();
}

// ---------------------------------------------------------------------------------------
// Blocking applications

/// On a runtime with ONE worker thread, an application blocked inside its call (a
/// blocking wait) does not stop other connections from being served: the request runs
/// under `block_in_place`, off the worker.
#[test]
fn a_blocked_application_does_not_stall_the_runtime() {
    let (app, started, release) = gate();
    let server = Server::start_on(app, quiet(), 1);
    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("in the application");
    // While it is blocked, others are served (each in well under the 10 s it waits).
    for i in 0..5 {
        let start = Instant::now();
        let r = server.get(&format!("/fast{i}"));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"fast"[..]));
        assert!(start.elapsed() < DEADLINE_SLACK, "{:?}", start.elapsed());
    }
    release.send(()).unwrap();
    let all = read_to_eof(&mut busy);
    let (responses, _) = parse_responses(&all, &["GET"]);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].body, b"slow");
}

/// `max_running = 1`: while one application is blocked, a request on another connection
/// waits for its turn (no answer yet), and is answered as soon as the first returns.
#[test]
fn max_running_bounds_the_applications_running_at_once() {
    let (app, started, release) = gate();
    let config = ServerConfig {
        max_running: 1,
        ..quiet()
    };
    let server = Server::start(app, config);
    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    started
        .recv_timeout(IO_TIMEOUT)
        .expect("in the application");
    let mut waiting = server.connect();
    waiting
        .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match waiting.read(&mut byte) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("answered while the only slot was taken: {other:?}"),
    }
    release.send(()).unwrap();
    waiting.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let all = read_to_eof(&mut waiting);
    let (responses, _) = parse_responses(&all, &["GET"]);
    assert_eq!(responses.len(), 1, "{:?}", String::from_utf8_lossy(&all));
    assert_eq!(responses[0].body, b"fast");
    let (responses, _) = parse_responses(&read_to_eof(&mut busy), &["GET"]);
    assert_eq!(responses[0].body, b"slow");
}

/// 64 clients at once, each with its own keep-alive connection, 5 POSTs each whose bodies
/// arrive in two parts (so the echo's reads of `wsgi.input` wait on the socket inside
/// `block_in_place`), on 2 workers with at most 8 applications running: every response is
/// the right one, nothing deadlocks.
#[test]
fn many_concurrent_keep_alive_clients_with_split_bodies() {
    many_clients(Execution::BlockInPlace);
}

/// The same with [`Execution::Inline`]: the echo runs on the workers, its waits for body
/// bytes leave them.
#[test]
fn many_concurrent_keep_alive_clients_with_split_bodies_inline() {
    many_clients(Execution::Inline);
}

fn many_clients(execution: Execution) {
    let config = ServerConfig {
        max_running: 8,
        execution,
        ..quiet()
    };
    let server = Server::start(AnyApp::Echo, config);
    let addr = server.addr;
    let clients: Vec<_> = (0..64u64)
        .map(|client| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                s.set_nodelay(true).unwrap();
                let mut pending = Vec::new();
                for i in 0..5u64 {
                    let body = pattern(3000 + (client * 5 + i) as usize, client * 5 + i);
                    let path = format!("/c{client}/r{i}");
                    write!(
                        s,
                        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    s.write_all(&body[..1000]).unwrap();
                    thread::sleep(Duration::from_millis(5));
                    s.write_all(&body[1000..]).unwrap();
                    let r = read_response(&mut s, &mut pending, "POST");
                    assert_eq!(r.status, 200, "{path}");
                    assert_eq!(r.header("X-Path"), Some(path.as_str()));
                    assert!(r.body == body, "{path}: the echoed body differs");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a client failed");
    }
    server.assert_running();
}

/// [`Execution::Inline`] on ONE worker: an application waiting for the rest of a request
/// body (read through `wsgi.input`) leaves the worker while it waits, so another
/// connection is served meanwhile; when the body arrives, the first is answered too.
#[test]
fn inline_application_waits_for_the_body_off_the_worker() {
    let config = ServerConfig {
        execution: Execution::Inline,
        ..quiet()
    };
    let server = Server::start_on(read_all_then_answer, config, 1);
    let mut waiting = server.connect();
    waiting
        .write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    // Give the application time to start waiting for the other 7 bytes.
    thread::sleep(Duration::from_millis(200));
    for i in 0..3 {
        let start = Instant::now();
        let r = server.get(&format!("/other{i}"));
        assert_eq!((r.status, r.body.as_slice()), (200, &b"0"[..]));
        assert!(start.elapsed() < DEADLINE_SLACK, "{:?}", start.elapsed());
    }
    waiting.write_all(b"defghij").unwrap();
    let r = read_response(&mut waiting, &mut Vec::new(), "POST");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"10"[..]));
}

/// `serve` on a `current_thread` runtime returns `Error::UnsupportedRuntime` (it would need
/// `block_in_place`, which panics there) instead of panicking.
#[test]
fn current_thread_runtime_is_an_error_not_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        wsgiref_tokio::serve(listener, AnyApp::Hello).await
    });
    let error = result.expect_err("a current_thread runtime is refused");
    assert!(
        matches!(
            error,
            wsgiref_tokio::Error::UnsupportedRuntime(Some(
                tokio::runtime::RuntimeFlavor::CurrentThread
            ))
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("multi-thread runtime"),
        "{error}"
    );
}
