//! The response writer's edges (found in review): what a failed call leaves behind, the
//! framing an HTTP/1.0 status line allows, final statuses only, `Content-Length` as sent,
//! and when the head counts as sent.

use wsgiref::handler::Transmit;
use wsgiref::{Config, Connection, Event, Exchange, Instant, LocalError, OutputMode, Version};

const T0: Instant = Instant::from_millis(0);
const GET11: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/// Feeds `request` to a fresh connection with a transmit buffer of `tx_len`, serves its
/// first request with `serve`, and returns every byte handed out plus the next event.
fn serve_one(
    config: &Config<'_>,
    tx_len: usize,
    request: &[u8],
    serve: impl FnOnce(&mut Exchange<'_>, &mut Vec<u8>),
) -> (String, Event<'static>) {
    let mut rx = vec![0u8; 4096];
    let mut tx = vec![0u8; tx_len];
    let mut conn: Connection<'_> = Connection::new(config, &mut rx, &mut tx);
    conn.receive_buf()[..request.len()].copy_from_slice(request);
    conn.handle_received(request.len());
    assert_eq!(conn.poll_event(T0), Event::Request);
    let mut out = Vec::new();
    {
        let mut arena = [0u8; 128];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        serve(&mut ex, &mut out);
    }
    let next = match conn.poll_event(T0) {
        Event::NextCycle => Event::NextCycle,
        Event::Close => Event::Close,
        Event::Request => Event::Request,
        other => panic!("unexpected {other:?}"),
    };
    (String::from_utf8_lossy(&out).into_owned(), next)
}

fn push(out: &mut Vec<u8>, t: Transmit<'_>) {
    for p in t.pieces() {
        out.extend_from_slice(p);
    }
}

/// `Config::http_version = Http10` (`BaseHandler.http_version = "1.0"`): an HTTP/1.1 client
/// never gets `Transfer-Encoding` under the HTTP/1.0 status line (RFC 9112 §6.1), a body of
/// unknown length is close-delimited, and a known length persists only with `Connection:
/// keep-alive` (RFC 9112 §9.3).
#[test]
fn an_http10_status_line_is_never_chunked() {
    let config = Config {
        http_version: Version::Http10,
        ..Config::DEFAULT
    };
    let (out, next) = serve_one(&config, 512, GET11, |ex, out| {
        ex.start_response("200 OK", &[("Content-Type", "text/plain")])
            .unwrap();
        push(out, ex.write(b"hello").unwrap());
        push(out, ex.finish().unwrap());
    });
    assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out:?}");
    assert!(
        !out.to_ascii_lowercase().contains("transfer-encoding"),
        "{out:?}"
    );
    assert!(out.ends_with("Connection: close\r\n\r\nhello"), "{out:?}");
    assert_eq!(next, Event::Close);

    let (out, next) = serve_one(&config, 512, GET11, |ex, out| {
        ex.start_response("200 OK", &[("Content-Type", "text/plain")])
            .unwrap();
        push(out, ex.write_whole(b"hello").unwrap());
        push(out, ex.finish().unwrap());
    });
    assert!(
        out.ends_with("Content-Length: 5\r\nConnection: keep-alive\r\n\r\nhello"),
        "{out:?}"
    );
    assert_eq!(next, Event::NextCycle);
}

/// Only final statuses (RFC 9110 §15): a 1xx is interim (an exchange ending on one leaves
/// the client waiting and misattributes the next response), and codes outside 100..=599
/// are not HTTP's. `start_response` refuses them; nothing is stored.
#[test]
fn only_final_statuses_are_accepted() {
    let table: &[(&str, Result<(), LocalError>)] = &[
        ("100 Continue", Err(LocalError::BadStatus)),
        ("101 Switching Protocols", Err(LocalError::BadStatus)),
        ("103 Early Hints", Err(LocalError::BadStatus)),
        ("000 Zero", Err(LocalError::BadStatus)),
        ("099 X", Err(LocalError::BadStatus)),
        ("600 Beyond", Err(LocalError::BadStatus)),
        ("999 X", Err(LocalError::BadStatus)),
        ("200 OK", Ok(())),
        ("204 No Content", Ok(())),
        ("599 Last", Ok(())),
    ];
    for (status, want) in table {
        let (out, _) = serve_one(&Config::DEFAULT, 512, GET11, |ex, out| {
            let got = ex.start_response(status, &[("X-A", "1")]);
            assert_eq!(&got, want, "{status}");
            if got.is_err() {
                // Nothing stored: a valid status can still be started.
                ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
            }
            push(out, ex.finish().unwrap());
        });
        let expect = if want.is_ok() { *status } else { "200 OK" };
        assert!(
            out.starts_with(&format!("HTTP/1.1 {expect}\r\n")),
            "{status}: {out:?}"
        );
    }
}

/// A replacement head (`restart_response`, the exc_info form) that does not fit the
/// transmit buffer leaves the pending head intact ("nothing is stored then"): before, its
/// first lines had overwritten the old head and the framing field was merged into a
/// header name (`ServeContent-Length`).
#[test]
fn a_failed_restart_leaves_the_pending_head_intact() {
    let big = "a".repeat(200);
    let (out, next) = serve_one(&Config::DEFAULT, 160, GET11, |ex, out| {
        ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
        let r = ex.restart_response("500 Internal Server Error", &[("X-Big", big.as_str())]);
        assert!(matches!(r, Err(LocalError::BufferTooSmall { .. })), "{r:?}");
        push(out, ex.write_whole(b"hello").unwrap());
        push(out, ex.finish().unwrap());
    });
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(
        out.ends_with("\r\nContent-Length: 5\r\n\r\nhello"),
        "{out:?}"
    );
    assert_eq!(next, Event::NextCycle);
    // A replacement that fits replaces it.
    let (out, _) = serve_one(&Config::DEFAULT, 160, GET11, |ex, out| {
        ex.start_response("200 OK", &[("X-Old", "1")]).unwrap();
        ex.restart_response("404 Not Found", &[("X-New", "2")])
            .unwrap();
        push(out, ex.write_whole(b"gone").unwrap());
        push(out, ex.finish().unwrap());
    });
    assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out:?}");
    assert!(
        out.contains("\r\nX-New: 2\r\n") && !out.contains("X-Old"),
        "{out:?}"
    );
}

/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. The list form a recipient may accept is not
/// for a sender to generate: an application's is refused, not sent as it is.
#[test]
fn an_application_content_length_is_digits_only() {
    for value in ["5, 5", ",5", "5,", " 5", "+5", "", "0x5", "5 "] {
        let (_, _) = serve_one(&Config::DEFAULT, 512, GET11, |ex, _| {
            let got = ex.start_response("200 OK", &[("Content-Length", value)]);
            assert_eq!(got, Err(LocalError::BadContentLength), "{value:?}");
        });
    }
    let (out, _) = serve_one(&Config::DEFAULT, 512, GET11, |ex, out| {
        ex.start_response("200 OK", &[("Content-Length", "005")])
            .unwrap();
        push(out, ex.write(b"hello").unwrap());
        push(out, ex.finish().unwrap());
    });
    assert!(out.ends_with("Content-Length: 005\r\n\r\nhello"), "{out:?}");
}

/// A `Content-Length` the application repeats with the same number goes out once (RFC 9110
/// §5.3: not a list field; Node's parser refuses a response with two), in both output
/// modes; differing ones are refused.
#[test]
fn a_repeated_content_length_is_sent_once() {
    let cgi = Config {
        mode: OutputMode::Cgi,
        ..Config::DEFAULT
    };
    for config in [Config::DEFAULT, cgi] {
        let (out, _) = serve_one(&config, 512, GET11, |ex, out| {
            let headers = [
                ("Content-Length", "5"),
                ("X-A", "1"),
                ("Content-Length", "5"),
            ];
            ex.start_response("200 OK", &headers).unwrap();
            push(out, ex.write(b"hello").unwrap());
            push(out, ex.finish().unwrap());
        });
        assert_eq!(out.matches("Content-Length").count(), 1, "{out:?}");
        assert!(
            out.ends_with("Content-Length: 5\r\nX-A: 1\r\n\r\nhello"),
            "{out:?}"
        );
    }
    let (_, _) = serve_one(&Config::DEFAULT, 512, GET11, |ex, _| {
        let headers = [("Content-Length", "5"), ("Content-Length", "6")];
        let got = ex.start_response("200 OK", &headers);
        assert_eq!(got, Err(LocalError::BadContentLength));
    });
}

/// When the chunk's size line does not fit beside the committed head, the write fails and
/// nothing is handed out: the head does not count as sent, so the error output still
/// answers (before, `headers_sent()` was true and the 500 was lost).
#[test]
fn a_head_not_handed_out_is_not_sent() {
    let pad = "p".repeat(300);
    let headers = [("X-Pad", pad.as_str())];
    // The head of the chunked response, measured on a large buffer.
    let mut head_len = 0;
    let _ = serve_one(&Config::DEFAULT, 1024, GET11, |ex, _| {
        ex.start_response("200 OK", &headers).unwrap();
        head_len = ex.write(b"hello").unwrap().head.len() - b"5\r\n".len();
    });
    // A transmit buffer that holds exactly that head.
    let (out, next) = serve_one(&Config::DEFAULT, head_len, GET11, |ex, out| {
        ex.start_response("200 OK", &headers).unwrap();
        assert!(matches!(
            ex.write(b"hello"),
            Err(LocalError::BufferTooSmall { .. })
        ));
        assert!(!ex.headers_sent());
        push(out, ex.fail());
    });
    assert!(out.starts_with("HTTP/1.1 500 "), "{out:?}");
    assert_eq!(next, Event::Close);
}

/// RFC 9110 §15.3.6: a server must not generate content in a 205 (Reset Content), and the
/// response must say it has none (a 205 is not among the statuses a client reads as
/// bodyless, RFC 9112 §6.3): `Content-Length: 0`, an application's body (and its own
/// Content-Length) not sent, and the connection goes on.
#[test]
fn a_205_has_no_content() {
    for declared in [None, Some("7")] {
        let (out, next) = serve_one(&Config::DEFAULT, 512, GET11, |ex, out| {
            match declared {
                Some(n) => ex.start_response("205 Reset Content", &[("Content-Length", n)]),
                None => ex.start_response("205 Reset Content", &[] as &[(&str, &str)]),
            }
            .unwrap();
            push(out, ex.write(b"ignored").unwrap());
            push(out, ex.finish().unwrap());
        });
        assert!(out.starts_with("HTTP/1.1 205 Reset Content\r\n"), "{out:?}");
        assert!(out.ends_with("\r\nContent-Length: 0\r\n\r\n"), "{out:?}");
        assert_eq!(out.matches("Content-Length").count(), 1, "{out:?}");
        assert_eq!(next, Event::NextCycle, "{declared:?}");
    }
}

/// A header iterator whose clones walk different lists: the one the `n`-th clone walks is
/// `lists[n]` (the last one for every later clone). `start_response` walks its clone of
/// the list twice (to validate and measure, then to write).
struct Shifty<'h> {
    lists: &'h [&'h [(&'h str, &'h str)]],
    clones: &'h std::cell::Cell<usize>,
    list: &'h [(&'h str, &'h str)],
}

impl<'h> Iterator for Shifty<'h> {
    type Item = &'h (&'h str, &'h str);
    fn next(&mut self) -> Option<Self::Item> {
        let (first, rest) = self.list.split_first()?;
        self.list = rest;
        Some(first)
    }
}

impl Clone for Shifty<'_> {
    fn clone(&self) -> Self {
        let n = self.clones.get();
        self.clones.set(n + 1);
        Self {
            list: self.lists[n.min(self.lists.len() - 1)],
            ..*self
        }
    }
}

/// `start_response` walks the application's header list once, checking each field as it
/// writes it: an iterator whose clones differ (against its contract) cannot put a field in
/// the head that was not checked. Where the head fits only in place (the application's own
/// `Date` or `Server` freed room the walk had left for the gateway's, or a pending head is
/// being replaced), a second walk writes it there, and must meet the same checks and lengths
/// as the first: otherwise no head is left. Before, every head took two walks and only the
/// lengths were compared: a second walk with a control byte in a value of the same length
/// was written (found in review).
#[test]
fn a_header_list_that_changes_between_walks_leaves_no_head() {
    let short: &[(&str, &str)] = &[("X-A", "1")];
    let long: &[(&str, &str)] = &[("X-A", "1"), ("X-Injected", "2")];
    // One walk: the head is what the walk saw.
    for lists in [&[short, long][..], &[long, short][..]] {
        let clones = std::cell::Cell::new(0);
        let headers = Shifty {
            lists,
            clones: &clones,
            list: &[],
        };
        let (out, next) = serve_one(&Config::DEFAULT, 512, GET11, |ex, out| {
            ex.start_response("404 Not Found", headers).unwrap();
            push(out, ex.write_whole(b"x").unwrap());
            push(out, ex.finish().unwrap());
        });
        assert_eq!(clones.get(), 1, "one walk");
        let first = lists[0];
        assert_eq!(out.contains("X-Injected"), first.len() == 2, "{out:?}");
        assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"), "{out:?}");
        assert!(out.contains("\r\nX-A: 1\r\n"), "{out:?}");
        assert_eq!(next, Event::NextCycle, "{out:?}");
    }
    // Two walks: the application's `Server` leaves the room of the gateway's unused, and the
    // buffer holds the head only in place.
    let first: &[(&str, &str)] = &[("Server", "y"), ("X-A", "1")];
    let head = "HTTP/1.1 404 Not Found\r\nServer: y\r\nX-A: 1\r\n";
    let seconds: [(&[(&str, &str)], Option<LocalError>); 4] = [
        (first, None),
        (
            &[("Server", "y"), ("X-A", "\x01")],
            Some(LocalError::BadHeaderValue),
        ),
        (&[("Server", "y"), ("X-A", "12")], None),
        (&[("Server", "y")], Some(LocalError::InvalidState)),
    ];
    for (second, error) in seconds {
        let lists = [first, second];
        let clones = std::cell::Cell::new(0);
        let headers = Shifty {
            lists: &lists,
            clones: &clones,
            list: &[],
        };
        let (out, next) = serve_one(&Config::DEFAULT, head.len(), GET11, |ex, out| {
            let r = ex.start_response("404 Not Found", headers);
            if second == first {
                assert_eq!(r, Ok(()));
                assert_eq!(clones.get(), 2, "two walks");
                return;
            }
            match error {
                Some(e) => assert_eq!(r, Err(e), "{second:?}"),
                None => assert!(r.is_err(), "{second:?}: {r:?}"),
            }
            assert_eq!(clones.get(), 2, "two walks");
            assert_eq!(ex.write(b"x"), Err(LocalError::InvalidState));
            push(out, ex.fail());
        });
        if second != first {
            // No head was left; the error output does not fit this small buffer either.
            assert_eq!(out, "", "{second:?}");
            assert_eq!(next, Event::Close);
        }
    }
}

/// `Connection::must_reset`: only a response cut short after its head went out, with a
/// body that the close delimits, asks for a reset; a length or chunked framing shows the
/// cut by itself, and a response that ends well (or fails before its head) closes
/// gracefully or persists.
#[test]
fn only_a_close_delimited_response_cut_short_asks_for_a_reset() {
    const GET10: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
    let http10 = Config {
        http_version: Version::Http10,
        ..Config::DEFAULT
    };
    // (what, config, request, declared length, fail after a first block, expected)
    let rows: &[(&str, &Config<'_>, &[u8], Option<&str>, bool, bool)] = &[
        (
            "1.0 client, no length, cut",
            &Config::DEFAULT,
            GET10,
            None,
            true,
            true,
        ),
        (
            "1.0 status line, no length, cut",
            &http10,
            GET11,
            None,
            true,
            true,
        ),
        (
            "1.0 client, length, cut",
            &Config::DEFAULT,
            GET10,
            Some("10"),
            true,
            false,
        ),
        (
            "1.1 chunked, cut",
            &Config::DEFAULT,
            GET11,
            None,
            true,
            false,
        ),
        (
            "1.1 length, cut",
            &Config::DEFAULT,
            GET11,
            Some("10"),
            true,
            false,
        ),
        (
            "1.0 client, no length, finished",
            &Config::DEFAULT,
            GET10,
            None,
            false,
            false,
        ),
        (
            "1.0 status line, no length, finished",
            &http10,
            GET11,
            None,
            false,
            false,
        ),
    ];
    for &(what, config, request, declared, cut, expected) in rows {
        let mut rx = vec![0u8; 1024];
        let mut tx = vec![0u8; 512];
        let mut conn: Connection<'_> = Connection::new(config, &mut rx, &mut tx);
        conn.receive_buf()[..request.len()].copy_from_slice(request);
        conn.handle_received(request.len());
        assert_eq!(conn.poll_event(T0), Event::Request, "{what}");
        {
            let mut arena = [0u8; 64];
            let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
            let length = declared.map(|n| ("Content-Length", n));
            let headers: Vec<(&str, &str)> = length.into_iter().collect();
            ex.start_response("200 OK", &headers).unwrap();
            let _ = ex.write(b"first").unwrap();
            if cut {
                let _ = ex.fail();
            } else {
                let _ = ex.finish().unwrap();
            }
        }
        assert_eq!(conn.poll_event(T0), Event::Close, "{what}");
        assert_eq!(conn.must_reset(), expected, "{what}");
    }
    // A failure before the head went out is answered (500): nothing is cut short.
    let mut rx = vec![0u8; 1024];
    let mut tx = vec![0u8; 512];
    let mut conn: Connection<'_> = Connection::new(&Config::DEFAULT, &mut rx, &mut tx);
    conn.receive_buf()[..GET10.len()].copy_from_slice(GET10);
    conn.handle_received(GET10.len());
    assert_eq!(conn.poll_event(T0), Event::Request);
    {
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
        let t = ex.fail();
        assert!(t.pieces().iter().any(|p| p.starts_with(b"HTTP/1.1 500")));
    }
    assert_eq!(conn.poll_event(T0), Event::Close);
    assert!(!conn.must_reset());
}
