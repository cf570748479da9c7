//! Application faults on the std server: a panic before the head is answered like an error
//! (500, the fixed body, no diagnostics), a panic after it closes the connection; both are
//! logged and the server keeps serving.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::thread;

use wsgiref::app::{AppError, Blocks, Request, StartResponse};
use wsgiref_std::server::{RequestHandler, ServerConfig, WsgiServer};

type Body = Blocks<std::vec::IntoIter<&'static [u8]>>;

fn app(req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
    match req.environ.get("PATH_INFO") {
        Some(b"/early") => panic!("boom before the head"),
        Some(b"/late") => {
            sr.start("200 OK", &[("Content-Type", "text/plain")])?;
            sr.write(b"partial")?;
            panic!("boom after the head");
        }
        _ => {
            sr.start("200 OK", &[("Content-Type", "text/plain")])?;
            Ok(Blocks::new(vec![&b"fine"[..]].into_iter()))
        }
    }
}

/// Collects what the server writes to its error stream.
#[derive(Default)]
struct Captured(Mutex<String>);

impl RequestHandler for Captured {
    fn get_stderr(&self, text: fmt::Arguments<'_>) {
        if let Ok(mut s) = self.0.lock() {
            fmt::Write::write_fmt(&mut *s, text).ok();
        }
    }
}

fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

#[test]
fn panics_are_answered_logged_and_survived() {
    // Keep the application's deliberate panics out of the test log, and nothing else.
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
    let config = ServerConfig {
        threads: 2,
        quiet: true,
        ..ServerConfig::default()
    };
    let server = WsgiServer::bind("127.0.0.1:0", app, config, Captured::default()).unwrap();
    let addr = server.server_address();
    let stop = server.shutdown_handle();
    /// Stops the server however the checks end, so a failed assertion reports, not hangs.
    struct StopOnDrop(wsgiref_std::server::ShutdownHandle);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.shutdown();
        }
    }
    thread::scope(|s| {
        s.spawn(|| server.serve_forever().unwrap());
        let _stop = StopOnDrop(stop);

        let early = exchange(addr, b"GET /early HTTP/1.1\r\nHost: a\r\n\r\n");
        let text = String::from_utf8_lossy(&early);
        assert!(
            text.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\r\n\r\nA server error occurred.  Please contact the administrator."),
            "{text}"
        );
        assert!(
            !text.contains("boom"),
            "diagnostics leaked to the client: {text}"
        );

        let late = exchange(
            addr,
            b"GET /late HTTP/1.1\r\nHost: a\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        let text = String::from_utf8_lossy(&late);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.ends_with("7\r\npartial\r\n"),
            "the chunked body must end without its last chunk: {text}"
        );
        assert_eq!(
            text.matches("HTTP/1.1").count(),
            1,
            "nothing after a failed response: {text}"
        );

        for _ in 0..3 {
            let ok = exchange(
                addr,
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            );
            assert!(
                ok.ends_with(b"\r\n\r\n4\r\nfine\r\n0\r\n\r\n"),
                "{}",
                String::from_utf8_lossy(&ok)
            );
        }
    });
    let _ = std::panic::take_hook();
    let log = server_log(&server);
    assert!(
        log.contains("application panicked: boom before the head"),
        "{log}"
    );
    assert!(
        log.contains("application panicked: boom after the head"),
        "{log}"
    );
}

fn server_log<A>(server: &WsgiServer<A, Captured>) -> String
where
    A: wsgiref::app::Application + Sync,
{
    server
        .handler()
        .0
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default()
}

/// `WSGIRequestHandler.handle` can be overridden: here it counts connections, serves the
/// first and refuses the second without a word.
#[test]
fn handle_can_wrap_or_refuse_a_connection() {
    use std::net::{SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Default)]
    struct OnlyFirst(AtomicU32);
    impl RequestHandler for OnlyFirst {
        fn handle(&self, _: &TcpStream, _: SocketAddr, serve: &mut dyn FnMut() -> u32) -> u32 {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                serve()
            } else {
                0
            }
        }
    }
    let config = ServerConfig {
        quiet: true,
        ..ServerConfig::default()
    };
    let server = WsgiServer::bind("127.0.0.1:0", app, config, OnlyFirst::default()).unwrap();
    let addr = server.server_address();
    let request: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let first = thread::spawn(move || exchange(addr, request));
    assert_eq!(server.handle_connection().unwrap(), 1);
    assert!(first.join().unwrap().starts_with(b"HTTP/1.1 200 OK\r\n"));
    let second = thread::spawn(move || exchange(addr, request));
    assert_eq!(server.handle_connection().unwrap(), 0);
    assert!(second.join().unwrap().is_empty());
    assert_eq!(server.handler().0.load(Ordering::SeqCst), 2);
}

/// `shutdown`: stops accepting, lets a request in flight finish, and does not wait for idle
/// keep-alive connections to time out.
#[test]
fn shutdown_finishes_in_flight_requests_and_is_bounded() {
    use std::time::{Duration, Instant};

    fn slow(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        thread::sleep(Duration::from_millis(300));
        sr.start("200 OK", &[])?;
        Ok(Blocks::new(vec![&b"done"[..]].into_iter()))
    }
    let config = ServerConfig {
        threads: 4,
        quiet: true,
        ..ServerConfig::default()
    };
    let server = WsgiServer::bind("127.0.0.1:0", slow, config, Captured::default()).unwrap();
    let addr = server.server_address();
    let stop = server.shutdown_handle();
    thread::scope(|s| {
        let serving = s.spawn(|| server.serve_forever().unwrap());
        // An idle keep-alive connection: served once, then left open.
        let mut idle = TcpStream::connect(addr).unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 256];
        // The whole chunked response (it may come in more than one read).
        let mut got = Vec::new();
        while !got.ends_with(b"0\r\n\r\n") {
            let n = idle.read(&mut buf).unwrap();
            assert!(n > 0, "closed inside the response: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        // A request in flight when the shutdown comes.
        let in_flight = s.spawn(move || {
            exchange(
                addr,
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            )
        });
        thread::sleep(Duration::from_millis(100));
        let asked = Instant::now();
        stop.shutdown();
        serving.join().unwrap();
        let took = asked.elapsed();
        let response = in_flight.join().unwrap();
        assert!(
            response.ends_with(b"4\r\ndone\r\n0\r\n\r\n"),
            "{}",
            String::from_utf8_lossy(&response)
        );
        assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
        // The idle connection was closed, and nothing new is accepted.
        assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
        drop(idle);
    });
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok_and(|mut c| {
            c.set_read_timeout(Some(Duration::from_millis(300))).ok();
            c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").ok();
            let mut b = [0u8; 16];
            !matches!(c.read(&mut b), Ok(n) if n > 0)
        })
    );
}

/// `handle_request` serves one request and closes: its response says so (`Connection:
/// close`), so a client that pipelined a second request knows it will not be answered
/// (before, the response promised keep-alive and the connection then closed).
#[test]
fn handle_request_answers_one_request_and_says_it_closes() {
    let server = WsgiServer::bind(
        "127.0.0.1:0",
        app,
        ServerConfig {
            quiet: true,
            ..ServerConfig::default()
        },
        Captured::default(),
    )
    .unwrap();
    let addr = server.server_address();
    thread::scope(|scope| {
        scope.spawn(|| server.handle_request().unwrap());
        let out = exchange(
            addr,
            b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n",
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 1, "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.ends_with("4\r\nfine\r\n0\r\n\r\n"), "{text}");
    });
}
