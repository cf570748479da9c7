//! The reference model of the response lifecycle, shared by `core/tests/model.rs` (random
//! sequences) and `fuzz/fuzz_targets/lifecycle.rs` (`Arbitrary` sequences): every call on an
//! exchange is checked against what the model accepts, and the bytes sent must parse with
//! httparse as one response whose framing carries exactly the accepted body bytes.
#![allow(dead_code, unreachable_pub)]

use wsgiref::{Config, Connection, Event, Instant, LocalError};

/// One call on the exchange.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `start_response(STATUSES[i], Content-Length?)`.
    Start(usize, Option<u64>),
    /// The `exc_info` form.
    Restart(usize, Option<u64>),
    /// `write` of that many bytes.
    Write(usize),
    /// `write_whole` of that many bytes.
    WriteWhole(usize),
    /// `write_external`: the caller sends the body bytes itself (sendfile).
    WriteExternal(usize),
    /// `finish`.
    Finish,
    /// `fail` (the error output).
    Fail,
}

/// The statuses an `Op` picks from by index (the last one is invalid).
pub const STATUSES: [&str; 6] = [
    "200 OK",
    "404 Not Found",
    "204 No Content",
    "304 Not Modified",
    "500 Oops",
    "20 bad",
];

/// The reference model: what the lifecycle should accept.
#[derive(Debug, Default)]
struct Model {
    started: bool,
    head_out: bool,
    ended: bool,
    /// Ended by a successful finish (not by fail).
    finished: bool,
    status: u16,
    declared: Option<u64>,
    /// Body bytes the model expects on the wire (before HEAD/204/304 suppression).
    body: Vec<u8>,
    too_long: bool,
    /// The head was committed (framing chosen) by a write.
    committed: bool,
    /// Body bytes still allowed once committed (Content-Length declared or inferred).
    remaining: Option<u64>,
}

fn status_code(i: usize) -> Option<u16> {
    STATUSES[i]
        .get(..3)?
        .parse()
        .ok()
        .filter(|_| STATUSES[i].as_bytes().get(3) == Some(&b' '))
}

/// Runs `ops` on one exchange of a GET or HEAD request (HTTP/1.0 or 1.1) and checks
/// every call against the model and the bytes sent against httparse; `case` names the run
/// in failure messages.
pub fn check_sequence(head_method: bool, http10: bool, ops: &[Op], case: usize) {
    let config = Config::DEFAULT;
    let request: &[u8] = match (head_method, http10) {
        (true, true) => b"HEAD / HTTP/1.0\r\n\r\n",
        (true, false) => b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
        (false, true) => b"GET / HTTP/1.0\r\n\r\n",
        (false, false) => b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    };
    let (mut rx, mut tx) = ([0u8; 256], [0u8; 512]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    conn.receive_buf()[..request.len()].copy_from_slice(request);
    conn.handle_received(request.len());
    assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    let mut arena = [0u8; 32];
    let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
    let mut model = Model::default();
    let mut wire = Vec::new();
    let mut log = Vec::new();
    for &op in ops {
        log.push(op);
        let data: Vec<u8> = (0..16).map(|i| b'a' + (i % 26) as u8).collect();
        match op {
            Op::Start(i, cl) | Op::Restart(i, cl) => {
                let replace = matches!(op, Op::Restart(..));
                let len = cl.map(|n| n.to_string()).unwrap_or_default();
                let with: [(&str, &str); 1] = [("Content-Length", &len)];
                let headers: &[(&str, &str)] = if cl.is_some() { &with } else { &[] };
                let got = if replace {
                    ex.restart_response(STATUSES[i], headers)
                } else {
                    ex.start_response(STATUSES[i], headers)
                };
                let expected = if model.ended {
                    Err(LocalError::InvalidState)
                } else if replace && model.head_out {
                    Err(LocalError::HeadersAlreadySent)
                } else if !replace && model.started {
                    Err(LocalError::AlreadyStarted)
                } else if status_code(i).is_none() {
                    Err(LocalError::BadStatus)
                } else {
                    Ok(())
                };
                assert_eq!(got, expected, "case {case}: {log:?}");
                if got.is_ok() {
                    model.started = true;
                    model.status = status_code(i).unwrap();
                    let code = model.status;
                    model.declared = cl.filter(|_| !matches!(code, 100..=199 | 204));
                }
                // A refused restart after the head was sent leaves the response as is.
            }
            Op::Write(n) | Op::WriteWhole(n) | Op::WriteExternal(n) => {
                let whole = matches!(op, Op::WriteWhole(_));
                let external = matches!(op, Op::WriteExternal(_));
                let chunk = &data[..n];
                let n64 = n as u64;
                let expected = if !model.started || model.ended {
                    Err(LocalError::InvalidState)
                } else if (!model.committed && model.declared.is_some_and(|d| n64 > d))
                    || (model.committed && model.remaining.is_some_and(|r| n64 > r))
                {
                    Err(LocalError::BodyTooLong)
                } else {
                    Ok(())
                };
                let got = if external {
                    ex.write_external(n64, false).map(|(t, send)| {
                        // The caller sends head, then the bytes itself, then tail.
                        let mut bytes = t.head.to_vec();
                        if send {
                            bytes.extend_from_slice(chunk);
                        }
                        bytes.extend_from_slice(t.tail);
                        bytes
                    })
                } else if whole {
                    ex.write_whole(chunk).map(|t| t.pieces().concat())
                } else {
                    ex.write(chunk).map(|t| t.pieces().concat())
                };
                match got {
                    Ok(bytes) => {
                        assert_eq!(expected, Ok(()), "case {case}: {log:?}");
                        if !model.committed && (n > 0 || whole) {
                            model.committed = true;
                            model.head_out = true;
                            let bodyless =
                                head_method || matches!(model.status, 100..=199 | 204 | 304);
                            model.remaining = if bodyless {
                                None
                            } else {
                                model.declared.or(whole.then_some(n64))
                            };
                        }
                        if let Some(r) = model.remaining.as_mut() {
                            *r -= n64;
                        }
                        model.body.extend_from_slice(chunk);
                        wire.extend_from_slice(&bytes);
                    }
                    Err(e) => {
                        assert_eq!(Err(e), expected, "case {case}: {log:?}");
                        model.too_long |= e == LocalError::BodyTooLong;
                    }
                }
            }
            Op::Finish => match ex.finish() {
                Ok(t) => {
                    assert!(model.started && !model.ended, "case {case}: {log:?}");
                    model.head_out = true;
                    model.ended = true;
                    model.finished = true;
                    t.pieces().iter().for_each(|p| wire.extend_from_slice(p));
                }
                Err(e) => {
                    assert_eq!(e, LocalError::InvalidState, "case {case}: {log:?}");
                    assert!(!model.started || model.ended, "case {case}: {log:?}");
                }
            },
            Op::Fail => {
                let t = ex.fail();
                if !model.ended && !model.head_out {
                    // The pending response is replaced by the error output.
                    model.head_out = true;
                    model.status = 500;
                    model.body =
                        b"A server error occurred.  Please contact the administrator.".to_vec();
                    model.declared = None;
                    assert!(!t.head.is_empty(), "case {case}: {log:?}");
                }
                model.ended = true;
                t.pieces().iter().for_each(|p| wire.extend_from_slice(p));
            }
        }
    }
    let short = check_wire(&wire, &model, head_method, case, &log);
    let _ = ex; // the exchange's borrow of the connection ends here
    if model.ended {
        let event = conn.poll_event(Instant::from_millis(0));
        if short || model.too_long {
            assert_eq!(
                event,
                Event::Close,
                "case {case}: {log:?}: a short response must close"
            );
        }
        assert!(
            matches!(event, Event::Close | Event::NextCycle),
            "case {case}: {event:?}"
        );
    }
}

/// The wire bytes parse as one response whose framing carries the model's body.
/// Returns true if a finished response is shorter than its Content-Length.
fn check_wire(wire: &[u8], model: &Model, head_method: bool, case: usize, log: &[Op]) -> bool {
    if wire.is_empty() {
        assert!(!model.head_out, "case {case}: {log:?}");
        return false;
    }
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut res = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = res.parse(wire).expect("a valid response head")
    else {
        panic!(
            "case {case}: incomplete head: {:?}",
            String::from_utf8_lossy(wire)
        );
    };
    assert_eq!(res.code, Some(model.status), "case {case}: {log:?}");
    let header = |name: &str| {
        res.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).unwrap().to_string())
    };
    let body = &wire[head_len..];
    let no_body = head_method || matches!(model.status, 100..=199 | 204 | 304);
    let chunked = header("Transfer-Encoding").is_some();
    let length = header("Content-Length").map(|v| v.parse::<usize>().unwrap());
    if matches!(model.status, 100..=199 | 204) {
        assert!(
            length.is_none() && !chunked,
            "case {case}: {log:?}: framing on a bodyless status"
        );
    }
    if no_body {
        assert!(
            body.is_empty(),
            "case {case}: {log:?}: body on a bodyless response"
        );
        return false;
    }
    let decoded = if chunked {
        assert!(length.is_none(), "case {case}: both framings");
        decode_chunked(body, model.finished)
    } else {
        if let Some(n) = length {
            assert!(
                body.len() <= n,
                "case {case}: {log:?}: more than Content-Length"
            );
            if body.len() < n && model.ended {
                return true;
            }
        } else {
            assert_eq!(
                header("Connection").as_deref(),
                Some("close"),
                "case {case}: close-delimited without close"
            );
        }
        body.to_vec()
    };
    assert_eq!(decoded, model.body, "case {case}: {log:?}");
    false
}

fn decode_chunked(mut body: &[u8], ended: bool) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if body.is_empty() {
            assert!(!ended, "a finished chunked body without its last chunk");
            return out;
        }
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            assert_eq!(body, b"\r\n", "last chunk then the end");
            return out;
        }
        assert!(size > 0);
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n");
        body = &body[size + 2..];
    }
}
