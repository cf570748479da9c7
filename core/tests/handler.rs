//! `BaseHandler.run` driven deterministically: CPython's HandlerTests (CGI output through a
//! `ResponseWriter`) and IntegrationTests (`run_amock`: a request through a `Connection`),
//! with exact output bytes.

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;

use wsgiref::app::{AppError, Blocks, Body, Bytes, Empty, Request, StartResponse};
use wsgiref::connection::Config;
use wsgiref::handler::{
    CgiIo, HttpIo, Outcome, OutputMode, ResponseWriter, Transport, TransportError, run,
};
use wsgiref::{Connection, Environ, Event, Gateway, Instant, Version};

/// An in-memory transport: reads from `input`, collects what is sent.
#[derive(Default)]
struct Pipe {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    fail_sends: Option<TransportError>,
}

impl Transport for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        if let Some(e) = self.fail_sends {
            return Err(e);
        }
        pieces.iter().for_each(|p| self.output.extend_from_slice(p));
        Ok(())
    }
}

/// Runs `app` as a CGI script (BaseCGIHandler) and returns (output, outcome, errors).
fn run_cgi<A: wsgiref::app::Application>(app: &A) -> (Vec<u8>, Outcome, String) {
    let pairs: &[(&str, &[u8])] = &[
        ("REQUEST_METHOD", b"GET"),
        ("SERVER_PROTOCOL", b"HTTP/1.0"),
        ("PATH_INFO", b"/"),
    ];
    let mut arena = [0u8; 128];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    let mut tx = [0u8; 512];
    let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
    let mut pipe = Pipe::default();
    let mut errors = String::new();
    let outcome = {
        let mut io = CgiIo::new(writer, &mut pipe, 0);
        run(app, &mut env, &mut errors, &mut io)
    };
    (pipe.output, outcome, errors)
}

type Res<B> = Result<B, AppError>;

fn start(sr: &mut StartResponse<'_>, status: &str, headers: &[(&str, &str)]) -> Res<()> {
    sr.start(status, headers)
}

const ERROR_PAGE: &[u8] = b"Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 59\r\n\r\nA server error occurred.  Please contact the administrator.";

/// HandlerTests.testContentLength, testBasicErrorOutput, testBytesData and the §3.15 output
/// layouts, CGI mode.
#[test]
fn cgi_output_layouts() {
    fn app1(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[])?;
        Ok(Bytes::new(b"http"))
    }
    fn app2(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[])?;
        sr.write(b"http")?;
        Ok(Empty)
    }
    fn app3(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[])?;
        Ok(Bytes::new("тест".as_bytes()))
    }
    fn app4(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[("Content-Length", "12345")])?;
        Ok(Empty)
    }
    fn empty(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[])?;
        Ok(Empty)
    }
    fn bytes_data(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Bytes<&'static [u8]>> {
        start(
            sr,
            "200 OK",
            &[("Content-Type", "text/plain; charset=utf-8")],
        )?;
        Ok(Bytes::new(b"data"))
    }
    fn two_blocks(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Blocks<std::array::IntoIter<&'static [u8], 2>>> {
        start(sr, "200 OK", &[])?;
        Ok(Blocks::new([&b"ab"[..], b"cd"].into_iter()))
    }
    fn empty_block(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[])?;
        Ok(Bytes::new(b""))
    }
    fn empty_then_x(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Blocks<std::array::IntoIter<&'static [u8], 2>>> {
        start(sr, "200 OK", &[])?;
        Ok(Blocks::new([&b""[..], b"x"].into_iter()))
    }
    fn declared_99(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[("Content-Length", "99")])?;
        Ok(Bytes::new(b"ab"))
    }
    fn lower_cl(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[("content-length", "2")])?;
        Ok(Bytes::new(b"ab"))
    }
    fn write_then_return(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[])?;
        sr.write(b"ab")?;
        Ok(Bytes::new(b"cd"))
    }
    fn no_content(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "204 No Content", &[])?;
        Ok(Empty)
    }
    fn replaced(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[("A", "1")])?;
        sr.restart("500 Oops", &[("B", b"2")])?;
        Ok(Bytes::new(b"x"))
    }
    fn error_app(_: &mut Request<'_, '_>, _: &mut StartResponse<'_>) -> Res<Empty> {
        Err(AppError::with_kind(
            "AssertionError",
            "This should be caught by handler",
        ))
    }
    fn no_start(_: &mut Request<'_, '_>, _: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        Ok(Bytes::new(b"abc"))
    }
    fn twice(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[])?;
        start(sr, "200 OK", &[])?;
        Ok(Empty)
    }
    fn error_after_output(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[])?;
        sr.write(b"Some output has been sent")?;
        Err(AppError::with_kind(
            "AssertionError",
            "This should be caught by handler",
        ))
    }
    fn partial_then_restart(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[("A", "1")])?;
        sr.write(b"partial")?;
        sr.restart("500 Oops", &[("B", b"2")])?;
        Ok(Empty)
    }

    // (name, output, logged error's line or "")
    let table: Vec<(&str, (Vec<u8>, Outcome, String), &[u8], &str)> = vec![
        ("testContentLength app1", run_cgi(&app1), b"Status: 200 OK\r\nContent-Length: 4\r\n\r\nhttp", ""),
        ("testContentLength app2 (write: no inference)", run_cgi(&app2), b"Status: 200 OK\r\n\r\nhttp", ""),
        ("testContentLength app3", run_cgi(&app3), b"Status: 200 OK\r\nContent-Length: 8\r\n\r\n\xd1\x82\xd0\xb5\xd1\x81\xd1\x82", ""),
        ("testContentLength app4 (declared length kept)", run_cgi(&app4), b"Status: 200 OK\r\nContent-Length: 12345\r\n\r\n", ""),
        ("testBasicErrorOutput non-error", run_cgi(&empty), b"Status: 200 OK\r\nContent-Length: 0\r\n\r\n", ""),
        ("testBasicErrorOutput error", run_cgi(&error_app), ERROR_PAGE, "AssertionError: This should be caught by handler"),
        ("testBytesData", run_cgi(&bytes_data), b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\ndata", ""),
        ("testErrorAfterOutput", run_cgi(&error_after_output), b"Status: 200 OK\r\n\r\nSome output has been sent", "AssertionError: This should be caught by handler"),
        ("3.15 two blocks", run_cgi(&two_blocks), b"Status: 200 OK\r\n\r\nabcd", ""),
        ("3.15 [b'']", run_cgi(&empty_block), b"Status: 200 OK\r\nContent-Length: 0\r\n\r\n", ""),
        // PEP 3333: the head waits for the first non-empty block (CPython sends it early).
        ("3.15 [b'', b'x']", run_cgi(&empty_then_x), b"Status: 200 OK\r\n\r\nx", ""),
        ("3.15 declared 99, sent 2 (not corrected)", run_cgi(&declared_99), b"Status: 200 OK\r\nContent-Length: 99\r\n\r\nab", ""),
        ("3.15 lower-case content-length", run_cgi(&lower_cl), b"Status: 200 OK\r\ncontent-length: 2\r\n\r\nab", ""),
        ("3.15 write then return", run_cgi(&write_then_return), b"Status: 200 OK\r\n\r\nabcd", ""),
        // gh-62299 fixed: no Content-Length on 204.
        ("3.15 204", run_cgi(&no_content), b"Status: 204 No Content\r\n\r\n", ""),
        ("3.15 exc_info replaces", run_cgi(&replaced), b"Status: 500 Oops\r\nB: 2\r\nContent-Length: 1\r\n\r\nx", ""),
        ("3.15 exc_info after output", run_cgi(&partial_then_restart), b"Status: 200 OK\r\nA: 1\r\n\r\npartial", "AssertionError: Headers already sent"),
        ("3.15 never calls start_response", run_cgi(&no_start), ERROR_PAGE, "AssertionError: write() before start_response()"),
        ("3.15 start_response twice", run_cgi(&twice), ERROR_PAGE, "AssertionError: Headers already set!"),
    ];
    for (name, (output, outcome, _errors), expected, logged) in table {
        assert_eq!(
            String::from_utf8_lossy(&output),
            String::from_utf8_lossy(expected),
            "{name}"
        );
        let got = outcome.error.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(got, logged, "{name}");
        assert!(!outcome.disconnected, "{name}");
    }
}

/// testRaisesControlCharacters (3.14): every C0 character and DEL in the status, a header
/// name or a header value is refused (HTAB allowed in values), in every build.
#[test]
fn control_characters_are_refused() {
    for c in (0u8..0x20).chain([0x7f]) {
        let ch = char::from(c).to_string();
        let status = format!("200 OK{ch}");
        let mut tx = [0u8; 256];
        let mut w = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
        assert!(
            w.start_response(&status, &[], false).is_err(),
            "status {c:#x}"
        );
        assert!(
            w.start_response("200 OK", &[(ch.as_str(), b"y")], false)
                .is_err(),
            "name {c:#x}"
        );
        let ok = w
            .start_response("200 OK", &[("x", ch.as_bytes())], false)
            .is_ok();
        assert_eq!(ok, c == b'\t', "value {c:#x}");
    }
}

/// testCloseOnError: the body is closed (dropped) when iterating it fails.
#[test]
fn the_body_is_closed_on_every_path() {
    struct Tracked {
        closed: Rc<Cell<bool>>,
        step: u8,
        fail: bool,
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.closed.set(true);
        }
    }
    impl Body for Tracked {
        fn next_block<'b>(
            &'b mut self,
            _: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            self.step += 1;
            match self.step {
                1 => Some(Ok(b"blah")),
                _ if self.fail => Some(Err(AppError::new("boom"))),
                _ => None,
            }
        }
    }
    for fail in [true, false] {
        let closed = Rc::new(Cell::new(false));
        let c = closed.clone();
        let app = wsgiref::app::from_fn(move |_req, sr| {
            sr.start("200 OK", &[])?;
            sr.write(b"first")?;
            Ok(Tracked {
                closed: c.clone(),
                step: 0,
                fail,
            })
        });
        let (output, outcome, _) = run_cgi(&app);
        assert!(closed.get(), "body not closed (fail={fail})");
        assert_eq!(output, b"Status: 200 OK\r\n\r\nfirstblah");
        assert_eq!(outcome.error.is_some(), fail);
    }
}

/// testClientConnectionTerminations: a client that went away ends the request quietly.
#[test]
fn client_disconnects_are_quiet() {
    fn hello(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
        start(sr, "200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Bytes::new(b"Hello, world!"))
    }
    let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET")];
    let mut arena = [0u8; 64];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    let mut tx = [0u8; 512];
    let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
    let mut pipe = Pipe {
        fail_sends: Some(TransportError::Disconnected),
        ..Pipe::default()
    };
    let mut errors = String::new();
    let mut io = CgiIo::new(writer, &mut pipe, 0);
    let outcome = run(&hello, &mut env, &mut errors, &mut io);
    assert!(outcome.disconnected);
    assert_eq!(outcome.error, None);
    assert!(errors.is_empty());
}

/// Client-disconnect errors are swallowed wherever they come from (CPython's `run`):
/// raised by the application itself before or after the head, raised by its body, or
/// raised by `wsgi.input` when the transport fails mid-body. Nothing is logged, no error
/// output is written, the outcome says the client is gone. Any other kind is an error.
#[test]
fn disconnect_errors_from_the_application_are_quiet() {
    #[derive(Clone, Copy)]
    enum Raise {
        Before,
        AfterHead,
        InBody,
        ReadingInput,
    }
    struct Failing(Option<AppError>);
    impl Body for Failing {
        fn next_block<'b>(
            &'b mut self,
            _: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            self.0.take().map(Err)
        }
    }
    /// Reads fail as a reset socket would.
    struct Reset;
    impl Transport for Reset {
        fn read(&mut self, _: &mut [u8]) -> Result<usize, TransportError> {
            Err(TransportError::Disconnected)
        }
        fn send(&mut self, _: &[&[u8]]) -> Result<(), TransportError> {
            Ok(())
        }
    }
    let kinds = [
        "ConnectionResetError",
        "BrokenPipeError",
        "ConnectionAbortedError",
        "OSError",
    ];
    for kind in kinds {
        for raise in [
            Raise::Before,
            Raise::AfterHead,
            Raise::InBody,
            Raise::ReadingInput,
        ] {
            let error = AppError::with_kind(kind, "gone");
            let app = wsgiref::app::from_fn(move |req, sr| {
                match raise {
                    Raise::Before => return Err(error),
                    Raise::AfterHead => {
                        sr.start("200 OK", &[])?;
                        sr.write(b"partial")?;
                        return Err(error);
                    }
                    Raise::InBody => {
                        sr.start("200 OK", &[])?;
                        return Ok(Failing(Some(error)));
                    }
                    Raise::ReadingInput => {
                        let mut buf = [0u8; 8];
                        embedded_io::Read::read(req.input, &mut buf)?;
                    }
                }
                sr.start("200 OK", &[])?;
                Ok(Failing(None))
            });
            let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"POST"), ("CONTENT_LENGTH", b"5")];
            let mut arena = [0u8; 64];
            let mut env = Environ::from_pairs(pairs, &mut arena);
            let mut tx = [0u8; 512];
            let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"POST", b"HTTP/1.0");
            let mut errors = String::new();
            let mut transport = Reset;
            let mut io = CgiIo::new(writer, &mut transport, 5);
            let outcome = run(&app, &mut env, &mut errors, &mut io);
            let quiet = matches!(raise, Raise::ReadingInput) || kind != "OSError";
            let case = format!("{kind} {}", raise as u8);
            assert_eq!(outcome.disconnected, quiet, "{case}");
            assert_eq!(outcome.error.is_none(), quiet, "{case}");
            assert!(errors.is_empty(), "{case}: {errors}");
        }
    }
}

/// An application that raises a disconnect error (`BrokenPipeError`, ...) ends the request
/// quietly, and the connection closes: a caller that goes on polling gets `Close`, not the
/// same request again (before, the exchange stayed open and `Request` came back, so a run
/// loop served the request a second time, and again).
#[test]
fn a_disconnect_raised_by_the_application_closes_the_connection() {
    let app = wsgiref::app::from_fn(|_req, _sr| -> Res<Bytes<&'static [u8]>> {
        Err(AppError::with_kind("BrokenPipeError", "gone"))
    });
    let config = Config::DEFAULT;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 512]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    let mut pipe = Pipe {
        input: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        ..Pipe::default()
    };
    let mut runs = 0;
    for _ in 0..10 {
        match conn.poll_event(Instant::from_millis(0)) {
            Event::NeedData => match pipe.read(conn.receive_buf()).unwrap() {
                0 => conn.handle_eof(),
                n => conn.handle_received(n),
            },
            Event::Request => {
                runs += 1;
                let mut arena = [0u8; 256];
                let (mut env, mut ex) = conn.exchange(&mut arena).unwrap();
                let mut errors = String::new();
                let mut io = HttpIo::new(&mut ex, &mut pipe);
                let outcome = run(&app, &mut env, &mut errors, &mut io);
                assert!(outcome.disconnected && outcome.error.is_none());
                assert!(errors.is_empty(), "{errors}");
            }
            Event::Close => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(runs, 1, "the request was served {runs} times");
    assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Close);
    assert!(
        pipe.output.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&pipe.output)
    );
}

/// testHeaderFormats: origin-server output, with and without server software, for both
/// status-line versions (SimpleHandler does not manage the connection: no Connection
/// header, no chunking).
#[test]
fn origin_header_formats() {
    fn empty(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[])?;
        Ok(Empty)
    }
    for software in ["FooBar/1.0", ""] {
        for http10 in [true, false] {
            for protocol in [&b"HTTP/1.0"[..], b"HTTP/1.1"] {
                let pairs: &[(&str, &[u8])] = &[("SERVER_PROTOCOL", protocol)];
                let mut arena = [0u8; 64];
                let mut env = Environ::from_pairs(pairs, &mut arena);
                let mut tx = [0u8; 512];
                let mut writer = ResponseWriter::new(&mut tx, OutputMode::Origin, b"GET", protocol);
                writer.set_server_software(software);
                writer.set_unix_time(1_149_533_394);
                if http10 {
                    writer.set_http10();
                }
                let mut pipe = Pipe::default();
                let mut errors = String::new();
                let mut io = CgiIo::new(writer, &mut pipe, 0);
                let _ = run(&empty, &mut env, &mut errors, &mut io);
                let mut want = format!(
                    "HTTP/{} 200 OK\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\n",
                    if http10 { "1.0" } else { "1.1" }
                );
                if !software.is_empty() {
                    let _ = write!(want, "Server: {software}\r\n");
                }
                want.push_str("Content-Length: 0\r\n\r\n");
                assert_eq!(String::from_utf8_lossy(&pipe.output), want);
            }
        }
    }
}

/// `run_amock`: one request through a `Connection` and `HttpIo`, CPython's fixture settings
/// (`SERVER_NAME=''`, port 80, `HTTP/1.0` status lines).
fn run_amock<A: wsgiref::app::Application>(app: &A, data: &[u8]) -> (Vec<u8>, Vec<Outcome>) {
    let config = Config {
        gateway: Gateway {
            server_name: "",
            server_port: 80,
            server_software: "WSGIServer/0.2 CPython/3.11.7",
            ..Gateway::DEFAULT
        },
        http_version: Version::Http10,
        ..Config::DEFAULT
    };
    let (mut rx, mut tx) = ([0u8; 16 * 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    conn.set_remote("127.0.0.1:8888".parse().unwrap());
    let mut pipe = Pipe {
        input: data.to_vec(),
        ..Pipe::default()
    };
    let mut outcomes = Vec::new();
    loop {
        match conn.poll_event(Instant::from_millis(0)) {
            Event::NeedData => match pipe.read(conn.receive_buf()).unwrap() {
                0 => conn.handle_eof(),
                n => conn.handle_received(n),
            },
            Event::Send(bytes) => pipe.output.extend_from_slice(bytes),
            Event::Request => {
                let mut arena = [0u8; 256];
                let (mut env, mut ex) = conn.exchange(&mut arena).unwrap();
                let mut errors = String::new();
                let mut io = HttpIo::new(&mut ex, &mut pipe);
                outcomes.push(run(app, &mut env, &mut errors, &mut io));
            }
            Event::NextCycle => {}
            _ => return (pipe.output, outcomes),
        }
    }
}

fn hello_app(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Bytes<&'static [u8]>> {
    start(
        sr,
        "200 OK",
        &[
            ("Content-Type", "text/plain"),
            ("Date", "Mon, 05 Jun 2006 18:49:54 GMT"),
        ],
    )?;
    Ok(Bytes::new(b"Hello, world!"))
}

/// IntegrationTests.test_plain_hello. One difference on purpose: `Connection: close`, sent
/// whenever the connection will close (here: an HTTP/1.0 client without keep-alive).
#[test]
fn plain_hello() {
    let (out, outcomes) = run_amock(&hello_app, b"GET / HTTP/1.0\n\n");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "HTTP/1.0 200 OK\r\nServer: WSGIServer/0.2 CPython/3.11.7\r\nContent-Type: text/plain\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!"
    );
    assert_eq!(outcomes[0].status, 200);
    assert_eq!(outcomes[0].body_sent, 13);
}

/// `start_response` takes any number of headers, text or bytes, and passes them through the
/// validator as they are (no intermediate list with a capacity): 40 of each, in order.
#[test]
fn many_headers_pass_through_start_response() {
    let names: Vec<String> = (0..40).map(|i| format!("X-H{i}")).collect();
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let text: Vec<(&str, &str)> = std::iter::once(("Content-Type", "text/plain"))
        .chain(
            names
                .iter()
                .zip(&values)
                .map(|(n, v)| (n.as_str(), v.as_str())),
        )
        .collect();
    let bytes: Vec<(&str, &[u8])> = text.iter().map(|&(n, v)| (n, v.as_bytes())).collect();
    let expected: String = text.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    let by_text = wsgiref::app::from_fn(|_req, sr| {
        sr.start("200 OK", &text)?;
        Ok(Bytes::new(&b"ok"[..]))
    });
    let by_bytes = wsgiref::app::from_fn(|_req, sr| {
        sr.start_bytes("200 OK", &bytes)?;
        Ok(Bytes::new(&b"ok"[..]))
    });
    for (name, out, outcomes) in [
        ("text", run_amock(&by_text, b"GET / HTTP/1.0\n\n")),
        ("bytes", run_amock(&by_bytes, b"GET / HTTP/1.0\n\n")),
        (
            "text, validated",
            run_amock(
                &wsgiref::validate::validator(&by_text),
                b"GET / HTTP/1.0\n\n",
            ),
        ),
    ]
    .map(|(name, (out, outcomes))| (name, out, outcomes))
    {
        let out = String::from_utf8_lossy(&out);
        assert_eq!(outcomes[0].status, 200, "{name}: {out}");
        assert!(out.contains(&expected), "{name}: {out}");
        assert!(out.ends_with("\r\n\r\nok"), "{name}: {out}");
    }
}

/// IntegrationTests.test_environ: the environ a request produces, as an application sees it.
#[test]
fn environ_through_the_handler() {
    fn header_app(
        req: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<heapless_body::Body> {
        start(
            sr,
            "200 OK",
            &[
                ("Content-Type", "text/plain"),
                ("Date", "Mon, 05 Jun 2006 18:49:54 GMT"),
            ],
        )?;
        let mut out = heapless_body::Body::default();
        for key in ["HTTP_X_TEST_HEADER", "QUERY_STRING", "PATH_INFO"] {
            if !out.0.is_empty() {
                out.0.push(b';');
            }
            out.0
                .extend_from_slice(req.environ.get(key).unwrap_or(b"?"));
        }
        Ok(out)
    }
    let (out, _) = run_amock(
        &header_app,
        b"GET /p%61th/?query=test HTTP/1.0\nX-Test-Header: Python test \nX-Test-Header: Python test 2\nContent-Length: 0\n\n",
    );
    assert!(
        out.ends_with(b"\r\n\r\nPython test,Python test 2;query=test;/path/"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// IntegrationTests.test_request_length (3.13+ reason phrase).
#[test]
fn request_length() {
    let mut data = b"GET ".to_vec();
    data.extend(std::iter::repeat_n(b'x', 65537));
    data.extend_from_slice(b" HTTP/1.0\n\n");
    let (out, outcomes) = run_amock(&hello_app, &data);
    assert!(outcomes.is_empty());
    assert!(
        out.starts_with(b"HTTP/1.0 414 URI Too Long\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

/// IntegrationTests.test_cp1252_url, with the head terminated (CPython also serves a request
/// line cut off by EOF; an incomplete head is a 400 here).
#[test]
fn cp1252_url() {
    fn path_app(req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<heapless_body::Body> {
        start(
            sr,
            "200 OK",
            &[
                ("Content-Type", "text/plain"),
                ("Date", "Wed, 24 Dec 2008 13:29:32 GMT"),
            ],
        )?;
        let mut out = heapless_body::Body::default();
        out.0
            .extend_from_slice(req.environ.get("PATH_INFO").unwrap_or(b"?"));
        Ok(out)
    }
    let (out, _) = run_amock(&path_app, b"GET /\x80%80 HTTP/1.0\r\n\r\n");
    assert!(out.ends_with(b"\r\n\r\n/\x80\x80"));
}

/// The request body through `wsgi.input`: bounded by its framing, chunked decoded, 100
/// Continue released by the first read, and an echo that streams it back.
#[test]
fn input_is_bounded_and_releases_continue() {
    fn echo(req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<heapless_body::Body> {
        start(sr, "200 OK", &[])?;
        let mut out = heapless_body::Body::default();
        let mut buf = [0u8; 3];
        loop {
            let n = req.input.read(&mut buf).map_err(AppError::from)?;
            if n == 0 {
                break;
            }
            out.0.extend_from_slice(&buf[..n]);
        }
        // Reading past the end stays at the end.
        assert_eq!(req.input.read(&mut buf).map_err(AppError::from)?, 0);
        Ok(out)
    }
    let (out, outcomes) = run_amock(
        &echo,
        b"POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nokGET /never HTTP/1.1\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n"),
        "{text}"
    );
    // The status line is HTTP/1.0 (this server's `http_version`): the connection persists
    // for the 1.1 client only because the response says so (RFC 9112 §9.3).
    assert!(
        text.contains("Content-Length: 12\r\nConnection: keep-alive\r\n\r\nhello, world"),
        "{text}"
    );
    assert!(
        text.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\nok"),
        "{text}"
    );
    assert_eq!(outcomes.len(), 2);

    // A broken body is answered with its own status, not 500.
    let (out, outcomes) = run_amock(
        &echo,
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert!(
        out.starts_with(b"HTTP/1.0 400 Bad Request\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(outcomes[0].error.map(|e| e.status()), Some(Some(400)));
}

/// A tiny owned body for tests (std Vec).
#[allow(unreachable_pub)]
mod heapless_body {
    use wsgiref::app::{AppError, Request};

    #[derive(Default)]
    pub struct Body(pub Vec<u8>, bool);

    impl wsgiref::app::Body for Body {
        fn next_block<'b>(
            &'b mut self,
            _: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            if self.1 {
                return None;
            }
            self.1 = true;
            Some(Ok(&self.0))
        }

        fn single_block(&self) -> bool {
            true
        }
    }
}

/// `BaseHandler.error_status`, `error_headers` and `error_body` are configurable.
#[test]
fn error_output_is_configurable() {
    use wsgiref::handler::ErrorOutput;
    fn broken(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Res<Empty> {
        start(sr, "200 OK", &[("X-Lost", "yes")])?;
        Err(AppError::new("boom"))
    }
    let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET")];
    let mut arena = [0u8; 64];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    let mut tx = [0u8; 512];
    let mut writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
    writer.set_error_output(ErrorOutput {
        status: "503 Service Unavailable",
        headers: &[("Content-Type", "text/html"), ("Retry-After", "5")],
        body: b"<p>later</p>",
    });
    let mut pipe = Pipe::default();
    let mut errors = String::new();
    let mut io = CgiIo::new(writer, &mut pipe, 0);
    let outcome = run(&broken, &mut env, &mut errors, &mut io);
    assert_eq!(
        String::from_utf8_lossy(&pipe.output),
        "Status: 503 Service Unavailable\r\nContent-Type: text/html\r\nRetry-After: 5\r\nContent-Length: 12\r\n\r\n<p>later</p>"
    );
    assert_eq!(
        outcome.error.map(|e| e.to_string()).as_deref(),
        Some("Error: boom")
    );
}

/// `wsgi.file_wrapper`: a file body is offered whole to a gateway with a fast path
/// (`sendfile`), and otherwise read in blocks of `blksize` (testFileWrapper's 150 bytes in
/// blocks of 120: 120, then 30).
#[test]
fn file_bodies_use_the_fast_path_or_blocks() {
    use wsgiref::LocalError;
    use wsgiref::app::{FileBody, FileSource};
    use wsgiref::handler::{Io, IoError};

    static DATA: [u8; 150] = [b'x'; 150];
    fn file_app(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Res<FileBody<&'static [u8], 120>> {
        start(sr, "200 OK", &[])?;
        Ok(FileBody::new(&DATA[..]))
    }

    /// Delegates to a CGI gateway, with a `send_file` that records its use and the blocks.
    struct Fast<'a> {
        inner: CgiIo<'a, Pipe>,
        blocks: Vec<usize>,
        supported: bool,
    }
    impl Io for Fast<'_> {
        fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, wsgiref::app::InputError> {
            self.inner.read_body(buf)
        }
        fn start(
            &mut self,
            s: &str,
            h: wsgiref::app::ResponseHeaders<'_>,
            r: bool,
        ) -> Result<(), LocalError> {
            self.inner.start(s, h, r)
        }
        fn write(&mut self, data: &[u8], whole: bool) -> Result<(), IoError> {
            self.blocks.push(data.len());
            self.inner.write(data, whole)
        }
        fn finish(&mut self) -> Result<(), IoError> {
            self.inner.finish()
        }
        fn fail(&mut self, status: u16) -> Result<(), IoError> {
            self.inner.fail(status)
        }
        fn headers_sent(&self) -> bool {
            self.inner.headers_sent()
        }
        fn started(&self) -> bool {
            self.inner.started()
        }
        fn progress(&self) -> (u16, u64) {
            self.inner.progress()
        }
        fn send_file(&mut self, file: &mut dyn FileSource) -> Option<Result<(), IoError>> {
            if !self.supported {
                return None;
            }
            let mut all = Vec::new();
            let mut buf = [0u8; 64];
            loop {
                match file.read_block(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                    Err(_) => return Some(Err(IoError::Local(LocalError::InvalidState))),
                }
            }
            self.blocks.push(usize::MAX); // marks the fast path
            Some(self.inner.write(&all, true))
        }
    }

    for supported in [false, true] {
        let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET")];
        let mut arena = [0u8; 64];
        let mut env = Environ::from_pairs(pairs, &mut arena);
        let mut tx = [0u8; 512];
        let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
        let mut pipe = Pipe::default();
        let mut errors = String::new();
        let blocks = {
            let mut io = Fast {
                inner: CgiIo::new(writer, &mut pipe, 0),
                blocks: Vec::new(),
                supported,
            };
            let outcome = run(&file_app, &mut env, &mut errors, &mut io);
            assert_eq!(outcome.error, None);
            io.blocks
        };
        if supported {
            assert_eq!(blocks, [usize::MAX]);
            assert!(
                pipe.output
                    .starts_with(b"Status: 200 OK\r\nContent-Length: 150\r\n\r\n")
            );
        } else {
            assert_eq!(blocks, [120, 30]);
            assert!(pipe.output.starts_with(b"Status: 200 OK\r\n\r\n"));
        }
        assert!(pipe.output.ends_with(&DATA));
    }
}

/// HandlerTests.testEnviron, testCGIEnviron and testScheme: `setup_environ` over the merged
/// process and handler environment (the handler's values win, as `add_cgi_vars` does).
#[test]
fn setup_environ_vectors() {
    use wsgiref::Value;
    use wsgiref::handler::setup_environ;
    use wsgiref::util::setup_testing_defaults;

    // os_environ merged with the handler's base environ (X="Y", HOME="/override/home").
    let pairs: &[(&str, &[u8])] = &[
        ("HOME", b"/override/home"),
        ("PATH", b"/my/path"),
        ("LANG", b"fr_FR.UTF-8"),
        ("X", b"Y"),
        // CPython replaces these with its objects; here they are not environ values.
        ("wsgi.input", b"x"),
        ("wsgi.errors", b"x"),
        ("wsgi.file_wrapper", b"x"),
        ("wsgi.version", b"x"),
    ];
    let mut arena = [0u8; 512];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    setup_testing_defaults(&mut env).unwrap();
    let gateway = Gateway {
        multithread: true,
        multiprocess: true,
        run_once: false,
        ..Gateway::DEFAULT
    };
    setup_environ(&mut env, &gateway, OutputMode::Cgi).unwrap();
    let expect: &[(&str, Value<'_>)] = &[
        ("HOME", Value::Str(b"/override/home")),
        ("PATH", Value::Str(b"/my/path")),
        ("LANG", Value::Str(b"fr_FR.UTF-8")),
        ("X", Value::Str(b"Y")),
        ("SCRIPT_NAME", Value::Str(b"")),
        ("SERVER_NAME", Value::Str(b"127.0.0.1")),
        ("wsgi.version", Value::Version(1, 0)),
        ("wsgi.run_once", Value::Bool(false)),
        ("wsgi.url_scheme", Value::Str(b"http")),
        ("wsgi.multithread", Value::Bool(true)),
        ("wsgi.multiprocess", Value::Bool(true)),
    ];
    for (key, value) in expect {
        assert_eq!(env.value(key), Some(*value), "{key}");
    }
    for key in ["wsgi.input", "wsgi.errors", "wsgi.file_wrapper"] {
        assert_eq!(env.value(key), None, "{key}");
        assert!(env.iter().all(|(k, _)| !k.bytes().eq(key.bytes())), "{key}");
    }
    // A CGI handler sets no SERVER_SOFTWARE; an origin server does, if absent.
    assert_eq!(env.get("SERVER_SOFTWARE"), None);
    setup_environ(&mut env, &gateway, OutputMode::Origin).unwrap();
    assert_eq!(
        env.get("SERVER_SOFTWARE"),
        Some(Gateway::DEFAULT.server_software.as_bytes())
    );

    // testScheme: HTTPS=on → https; absent → http. testCGIEnviron: an empty base works.
    for (https, scheme) in [(Some(&b"on"[..]), &b"https"[..]), (None, b"http")] {
        let with: [(&str, &[u8]); 1] = [("HTTPS", https.unwrap_or(b""))];
        let pairs: &[(&str, &[u8])] = if https.is_some() { &with } else { &[] };
        let mut arena = [0u8; 256];
        let mut env = Environ::from_pairs(pairs, &mut arena);
        setup_environ(&mut env, &Gateway::DEFAULT, OutputMode::Cgi).unwrap();
        assert_eq!(env.get("wsgi.url_scheme"), Some(scheme));
    }
}
