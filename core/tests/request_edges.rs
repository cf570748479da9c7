//! The request side's edges (found in review; each test fails on 10a26d1): an absolute-form
//! target without a host, the core's own error responses to HEAD, a `Content-Length` list
//! in the environ, what draining an unread body costs and says, whitespace in a chunk line.
mod common;

use common::{Split, run, run_all_splits};
use wsgiref::{Body, Config, Connection, Event, Instant, Limits};

const RX: usize = 4096;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn feed(conn: &mut Connection<'_>, bytes: &[u8]) {
    conn.receive_buf()[..bytes.len()].copy_from_slice(bytes);
    conn.handle_received(bytes.len());
}

/// Feeds `body` as the connection asks for it after a response, until it does something
/// else: that event, and how many octets it took.
fn drain(conn: &mut Connection<'_>, body: &[u8]) -> (String, usize) {
    let mut fed = 0;
    loop {
        match conn.poll_event(ms(0)) {
            Event::NeedData => {
                let buf = conn.receive_buf();
                let n = buf.len().min(body.len() - fed);
                buf[..n].copy_from_slice(&body[fed..fed + n]);
                fed += n;
                conn.handle_received(n);
            }
            other => return (format!("{other:?}"), fed),
        }
    }
}

/// RFC 9110 §4.2.1: "A sender MUST NOT generate an "http" URI with an empty host
/// identifier. A recipient that processes such a URI reference MUST reject it as invalid."
/// (§4.2.2 the same for https.) Served today, with HTTP_HOST = "".
#[test]
fn absolute_form_with_an_empty_host_is_rejected() {
    for input in [
        &b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET https://:8443/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http:///x HTTP/1.0\r\n\r\n",
    ] {
        let t = run_all_splits(&Config::DEFAULT, input, RX);
        assert_eq!(
            t.statuses(),
            [400],
            "{:?}: served with HTTP_HOST {:?}",
            String::from_utf8_lossy(input),
            t.env(0, "HTTP_HOST").map(String::from_utf8_lossy)
        );
    }
}

/// RFC 9110 §9.3.2: the server MUST NOT send content in the response to HEAD (also
/// RFC 9112 §6.3 rule 1). The core's own error responses to a HEAD request carry a body.
#[test]
fn error_responses_to_head_have_no_content() {
    for input in [
        &b"HEAD / HTTP/1.1\r\n\r\n"[..], // no Host: 400
        b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999\r\n\r\n", // 413
        b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", // 501
    ] {
        let t = run(&Config::DEFAULT, input, Split::Every(usize::MAX), RX);
        let out = String::from_utf8_lossy(&t.output).into_owned();
        let (_, content) = out.split_once("\r\n\r\n").expect("a response");
        assert_eq!(content, "", "content after a HEAD error response: {out:?}");
    }
}

/// RFC 9110 §8.6: a recipient that accepts `Content-Length: 42, 42` must "replace that
/// invalid field value with a single instance of the decimal value"; CONTENT_LENGTH must be
/// `1*digit` (RFC 3875 §4.1.2), which applications parse with int(). Today it is "2, 2".
#[test]
fn a_repeated_content_length_list_gives_one_decimal_content_length() {
    for input in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nok"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2 ,2\r\n\r\nok",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nX: y\r\nContent-Length: 2, 2\r\n\r\nok",
    ] {
        for keep in [None, Some(&[][..])] {
            let config = Config {
                keep_headers: keep,
                ..Config::DEFAULT
            };
            let t = run_all_splits(&config, input, RX);
            assert_eq!(t.statuses(), [200]);
            assert_eq!(t.bodies[0], b"ok");
            assert_eq!(
                t.env(0, "CONTENT_LENGTH").map(String::from_utf8_lossy),
                Some("2".into()),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// ARCHITECTURE.md ("Connection: close is sent whenever the connection will close: ... the
/// request body cannot be drained cheaply") and DESIGN.md ("a Connection: close whenever it
/// will close"). The response head is produced by `finish()`, so the application can no
/// longer read the body; 100 000 unread octets exceed max_drain (64 KiB), so the connection
/// will close after draining 64 KiB: the head must say so. So must a streamed head when the
/// application has not asked for a byte of the body (the conformance probe's case: `demo_app`
/// answering a 196 000-octet POST in blocks).
#[test]
fn a_body_too_large_to_drain_announces_close() {
    // How the application ends its response: `finish` alone (no body), one whole block
    // (`write_whole`, the single-block path of `handler::run`), a file sent whole by the
    // caller (`write_external`), a first block that is all of a declared Content-Length,
    // a streamed block of unknown length from an application that has not asked for the
    // body, and, for contrast, the same after it asked (it reads while its response streams,
    // as an echo does: nothing is announced, the drain decides later).
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum End {
        Finish,
        Whole,
        External,
        Declared,
        Streamed,
        StreamedReading,
    }
    for end in [
        End::Finish,
        End::Whole,
        End::External,
        End::Declared,
        End::Streamed,
        End::StreamedReading,
    ] {
        let config = Config::DEFAULT;
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
        let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
        feed(
            &mut conn,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n",
        );
        assert_eq!(conn.poll_event(ms(0)), Event::Request);
        let head = {
            let mut arena = [0u8; 64];
            let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
            if end == End::Declared {
                ex.start_response("200 OK", &[("Content-Length", "2")])
                    .unwrap();
            } else {
                ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
            }
            if end == End::StreamedReading {
                assert_eq!(ex.poll_body(ms(0)), Ok(Body::NeedData));
            }
            let head = match end {
                End::Finish => ex.finish().unwrap().head.to_vec(),
                End::Whole => ex.write_whole(b"hi").unwrap().head.to_vec(),
                End::External => ex.write_external(2, true).unwrap().0.head.to_vec(),
                End::Declared | End::Streamed | End::StreamedReading => {
                    ex.write(b"hi").unwrap().head.to_vec()
                }
            };
            if end != End::Finish {
                let _ = ex.finish().unwrap();
            }
            head
        };
        // What the connection then does: drain up to max_drain, then close.
        let (outcome, fed) = drain(&mut conn, &[b'z'; 100_000]);
        assert_eq!(outcome, "Close", "{end:?}");
        let announced = head.windows(19).any(|w| w == b"Connection: close\r\n");
        assert_eq!(
            announced,
            end != End::StreamedReading,
            "{end:?}: closed after {fed} octets; head {:?}",
            String::from_utf8_lossy(&head)
        );
    }
}

/// `max_drain` ("most unread body octets discarded after a response") counts chunk data
/// only: chunk-size lines with extensions (up to max_chunk_line each) are free, so a
/// chunked body carrying 10 data octets makes the server read and discard ~10 KB with
/// max_drain = 16 and keep the connection (with defaults: 64 Ki chunks of ~1 KiB, 64 MiB).
#[test]
fn draining_is_bounded_by_the_octets_read_not_only_chunk_data() {
    let config = Config {
        limits: Limits {
            max_drain: 16,
            ..Limits::DEFAULT
        },
        ..Config::DEFAULT
    };
    let mut body = Vec::new();
    let ext = "e".repeat(1000);
    for _ in 0..10 {
        body.extend_from_slice(format!("1;{ext}\r\nx\r\n").as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let (mut rx, mut tx) = ([0u8; 2048], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    feed(
        &mut conn,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    {
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        ex.start_response("204 No Content", &[] as &[(&str, &str)])
            .unwrap();
        let _ = ex.finish().unwrap();
    }
    let (outcome, fed) = drain(&mut conn, &body);
    // The core may only have read one receive buffer (2048 octets) beyond max_drain.
    assert!(
        outcome == "Close" && fed <= 2048,
        "{outcome} after discarding {fed} octets with max_drain 16"
    );
}

/// RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF, chunk-ext = *( BWS ";" BWS
/// chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ): whitespace after the size (or after an
/// extension) that is not followed by `;` is not in the grammar. DESIGN.md: strict framing,
/// bad chunk sizes rejected.
#[test]
fn whitespace_before_the_chunk_line_crlf_is_rejected() {
    for line in [&b"5 "[..], b"5\t", b"5;a ", b"5;a=b "] {
        let mut input =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        input.extend_from_slice(line);
        input.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        let t = run_all_splits(&Config::DEFAULT, &input, RX);
        assert_eq!(t.statuses(), [400], "{:?}", String::from_utf8_lossy(line));
    }
}
