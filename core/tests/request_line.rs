//! `Connection::request_line` and `Connection::rejected`, for access logs that show the
//! request line as received (Python's `http.server` logs `self.requestline`): the path is
//! decoded in place only when the exchange begins, so until then the line is exactly what
//! came; a request the core rejects itself keeps as much of its line as arrived. Every
//! request is fed whole and split at every offset.

use wsgiref::{Config, Connection, Event, Instant, Limits, RemoteError};

const T0: Instant = Instant::from_millis(0);

/// Feeds `input` in two writes split at `at` (all of it when `at` is past the end), polling
/// after each, and returns the first event that is not `NeedData`, as text.
fn feed_split(conn: &mut Connection<'_>, input: &[u8], at: usize) -> String {
    let (a, b) = input.split_at(at.min(input.len()));
    let mut event = String::new();
    for part in [a, b] {
        if part.is_empty() {
            continue;
        }
        conn.receive_buf()[..part.len()].copy_from_slice(part);
        conn.handle_received(part.len());
        match conn.poll_event(T0) {
            Event::NeedData => continue,
            other => {
                event = format!("{other:?}");
                break;
            }
        }
    }
    event
}

/// Served requests: (request, the line as received, PATH_INFO after the exchange).
#[test]
fn the_line_is_as_received_until_the_exchange() {
    let rows: &[(&[u8], &[u8], &[u8])] = &[
        (
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1",
            b"/",
        ),
        (
            b"GET /%2Fa%2fb?q=%20 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /%2Fa%2fb?q=%20 HTTP/1.1",
            b"//a/b",
        ),
        (
            b"GET /%41%42 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /%41%42 HTTP/1.1",
            b"/AB",
        ),
        (
            b"GET /%zz%4 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /%zz%4 HTTP/1.1",
            b"/%zz%4",
        ),
        (
            b"GET //x//y HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET //x//y HTTP/1.1",
            b"/x//y",
        ),
        (
            b"GET /a? HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /a? HTTP/1.1",
            b"/a",
        ),
        (
            b"GET /%0a%0D HTTP/1.0\n\n",
            b"GET /%0a%0D HTTP/1.0",
            b"/\n\r",
        ),
        (
            b"GET /\xe9%e9 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /\xe9%e9 HTTP/1.1",
            b"/\xe9\xe9",
        ),
        (
            b"OPTIONS http://h.example/p%20q?x HTTP/1.1\r\nHost: h\r\n\r\n",
            b"OPTIONS http://h.example/p%20q?x HTTP/1.1",
            b"/p q",
        ),
        // Empty lines before the request line are not part of it.
        (
            b"\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /x HTTP/1.1",
            b"/x",
        ),
    ];
    for &(input, line, path) in rows {
        for at in 0..=input.len() {
            let (mut rx, mut tx, mut arena) = (vec![0u8; 1024], vec![0u8; 512], [0u8; 64]);
            let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
            assert_eq!(conn.request_line(), None);
            assert_eq!(
                feed_split(&mut conn, input, at),
                "Request",
                "{input:?} at {at}"
            );
            assert_eq!(conn.request_line(), Some(line), "{input:?} at {at}");
            assert_eq!(conn.rejected(), None);
            {
                let (environ, _exchange) = conn.exchange(&mut arena).unwrap();
                assert_eq!(environ.get("PATH_INFO"), Some(path), "{input:?} at {at}");
            }
            // Once the exchange began, the line may have been rewritten: no longer offered.
            assert_eq!(conn.request_line(), None, "{input:?} at {at}");
            let (environ, _exchange) = conn.exchange(&mut arena).unwrap();
            assert_eq!(environ.get("PATH_INFO"), Some(path), "decoded once");
        }
    }
}

/// Requests the core rejects: (request, status, the line as far as it came). A line too
/// long is logged empty, as `http.server` does.
#[test]
fn a_rejected_request_keeps_its_line() {
    let limits = Limits {
        max_request_line: 64,
        ..Limits::DEFAULT
    };
    let config = Config {
        limits,
        ..Config::DEFAULT
    };
    let long = [
        b"GET /".as_slice(),
        &[b'a'; 100],
        b" HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    .concat();
    let rows: &[(&[u8], u16, &[u8])] = &[
        (
            b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
            400,
            b"GET /a b HTTP/1.1",
        ),
        (
            b"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",
            400,
            b"GET /a#b HTTP/1.1",
        ),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, b"GET / HTTP/2.0"),
        (b"GET /%41 HTTP/1.1\r\n\r\n", 400, b"GET /%41 HTTP/1.1"),
        (
            b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
            b"POST /x HTTP/1.1",
        ),
        (
            b"GET /x HTTP/1.1\r\nHost: h\r\nA : b\r\n\r\n",
            400,
            b"GET /x HTTP/1.1",
        ),
        (&long, 414, b""),
        // After empty lines (the line is moved to the front before it is checked).
        (
            b"\r\nGET / HTTP/2.0\r\nHost: h\r\n\r\n",
            505,
            b"GET / HTTP/2.0",
        ),
        (
            b"\r\n\r\nGET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
            400,
            b"GET /a b HTTP/1.1",
        ),
        (b"\nBAD\x01 / HTTP/1.1\r\n\r\n", 400, b"BAD\x01 / HTTP/1.1"),
        // A bare CR inside the line is part of it (only the terminator is not).
        (
            b"GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n",
            400,
            b"GET /a\rb HTTP/1.1",
        ),
    ];
    for &(input, status, line) in rows {
        for at in 0..=input.len() {
            let (mut rx, mut tx) = (vec![0u8; 1024], vec![0u8; 512]);
            let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
            let event = feed_split(&mut conn, input, at);
            assert!(
                event.starts_with("Send("),
                "{:?} at {at}: {event}",
                String::from_utf8_lossy(input)
            );
            let error = conn.rejected().unwrap();
            assert_eq!(error.status(), status, "{input:?} at {at}");
            assert_eq!(
                conn.request_line().map(String::from_utf8_lossy),
                Some(String::from_utf8_lossy(line)),
                "{:?} at {at}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(conn.poll_event(T0), Event::Close);
            assert_eq!(conn.rejected(), Some(error), "kept after the close");
            assert!(conn.request_line().is_some());
        }
    }
    // A head timed out after its request line: 408, with the line.
    let (mut rx, mut tx) = (vec![0u8; 1024], vec![0u8; 512]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    assert_eq!(feed_split(&mut conn, b"GET /slow HTTP/1.1\r\nHo", 99), "");
    let deadline = conn.poll_timeout().unwrap();
    conn.handle_timeout(deadline);
    assert!(format!("{:?}", conn.poll_event(deadline)).starts_with("Send("));
    assert_eq!(conn.rejected(), Some(RemoteError::Timeout));
    assert_eq!(conn.request_line(), Some(&b"GET /slow HTTP/1.1"[..]));
}
