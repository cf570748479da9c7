//! Connection behaviour over time: `100 Continue`, deadlines, header filtering with a small
//! receive buffer, and API misuse.

mod common;

use common::{Split, run, run_all_splits};
use wsgiref::state::{Phase, TimerKind};
use wsgiref::{Body, Config, Connection, Event, Instant, LocalError, RemoteError};

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn feed(conn: &mut Connection<'_>, bytes: &[u8]) {
    let buf = conn.receive_buf();
    buf[..bytes.len()].copy_from_slice(bytes);
    conn.handle_received(bytes.len());
}

/// `100 Continue` is produced only by the first body read, never for HTTP/1.0, and never
/// once the response has started.
#[test]
fn continue_is_sent_lazily_on_the_first_body_read() {
    let config = Config::DEFAULT;
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    feed(
        &mut conn,
        b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    let mut arena = [0u8; 64];
    let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
    assert_eq!(
        ex.poll_body(ms(0)),
        Ok(Body::Continue(b"HTTP/1.1 100 Continue\r\n\r\n"))
    );
    assert_eq!(ex.poll_body(ms(0)), Ok(Body::NeedData));
    ex.receive_buf()[..5].copy_from_slice(b"hello");
    ex.handle_received(5);
    assert_eq!(ex.poll_body(ms(1)), Ok(Body::Data(b"hello")));
    assert_eq!(ex.poll_body(ms(1)), Ok(Body::End));
    ex.start_response("200 OK", &[("A", "b")]).unwrap();
    let t = ex.finish().unwrap();
    assert!(t.head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(!t.head.windows(17).any(|w| w == b"Connection: close"));
}

#[test]
fn continue_is_never_sent_to_http10_or_after_the_response_started() {
    let config = Config::DEFAULT;
    // HTTP/1.0: Expect is ignored.
    let t = run_all_splits(
        &config,
        b"PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab",
        1024,
    );
    assert!(common::find(&t.output, b"100 Continue").is_none());
    assert_eq!(t.bodies, [b"ab".to_vec()]);

    // The response starts before the body is read: no 100, and the connection closes
    // after the response (the client may still be waiting to send).
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    feed(
        &mut conn,
        b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    let mut arena = [0u8; 64];
    let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
    ex.start_response("413 Content Too Large", &[] as &[(&str, &str)])
        .unwrap();
    let head = ex.write_whole(b"no").unwrap().head.to_vec();
    assert!(head.windows(19).any(|w| w == b"Connection: close\r\n"));
    assert_ne!(
        ex.poll_body(ms(0)),
        Ok(Body::Continue(wsgiref::connection::CONTINUE))
    );
    let _ = ex.finish().unwrap();
    assert_eq!(conn.poll_event(ms(0)), Event::Close);
}

/// Deadlines come out of the core; a passed deadline closes, with 408 if a request was
/// under way and nothing was sent.
#[test]
fn deadlines() {
    let config = Config::DEFAULT;
    let t = config.timeouts;
    let first = t.first_byte.as_millis() as u64;
    let idle = t.keep_alive.as_millis() as u64;
    let head = t.head.as_millis() as u64;
    let body = t.body.as_millis() as u64;

    // First byte: quiet close.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    assert_eq!(conn.poll_event(ms(100)), Event::NeedData);
    assert_eq!(conn.timer(), Some(TimerKind::FirstByte));
    assert_eq!(conn.poll_timeout(), Some(ms(100 + first)));
    conn.handle_timeout(ms(99 + first));
    assert_eq!(
        conn.poll_event(ms(99 + first)),
        Event::NeedData,
        "early: no effect"
    );
    conn.handle_timeout(ms(100 + first));
    assert_eq!(conn.poll_event(ms(100 + first)), Event::Close);

    // Head: started at its first byte, not reset by later bytes; 408.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    assert_eq!(conn.poll_event(ms(0)), Event::NeedData);
    feed(&mut conn, b"GET / HT");
    assert_eq!(conn.poll_event(ms(50)), Event::NeedData);
    assert_eq!(conn.timer(), Some(TimerKind::Head));
    feed(&mut conn, b"TP/1.1\r\n");
    assert_eq!(conn.poll_event(ms(60)), Event::NeedData);
    assert_eq!(conn.poll_timeout(), Some(ms(50 + head)));
    conn.handle_timeout(ms(50 + head));
    match conn.poll_event(ms(50 + head)) {
        Event::Send(bytes) => assert!(bytes.starts_with(b"HTTP/1.1 408 Request Timeout\r\n")),
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.poll_event(ms(50 + head)), Event::Close);
    assert_eq!(conn.receive_buf().len(), 0, "nothing more is read");

    // Body: counted from the last progress; the application sees the error and the
    // error output is a 408.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    feed(
        &mut conn,
        b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab",
    );
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    {
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        assert_eq!(ex.poll_body(ms(0)), Ok(Body::Data(b"ab")));
        assert_eq!(ex.poll_body(ms(10)), Ok(Body::NeedData));
    }
    assert_eq!(conn.timer(), Some(TimerKind::Body));
    assert_eq!(conn.poll_timeout(), Some(ms(10 + body)));
    conn.handle_timeout(ms(10 + body));
    {
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        assert_eq!(ex.poll_body(ms(10 + body)), Err(RemoteError::Timeout));
        let t = ex.fail();
        assert!(t.head.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
    }
    assert_eq!(conn.poll_event(ms(10 + body)), Event::Close);

    // Idle keep-alive: after a response, quiet close.
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    feed(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    assert_eq!(conn.poll_timeout(), None, "no deadline while the app works");
    {
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
        let _ = ex.finish().unwrap();
    }
    assert_eq!(conn.poll_event(ms(500)), Event::NextCycle);
    assert_eq!(conn.poll_event(ms(500)), Event::NeedData);
    assert_eq!(conn.timer(), Some(TimerKind::KeepAlive));
    assert_eq!(conn.poll_timeout(), Some(ms(500 + idle)));
    conn.handle_timeout(ms(500 + idle));
    assert_eq!(conn.poll_event(ms(500 + idle)), Event::Close);
    assert_eq!(conn.phase(), Phase::Closed);
}

/// With header filtering, a 1 KiB receive buffer serves a real browser request carrying a
/// 2 KiB Cookie: the Cookie is validated and counted, its bytes dropped as they arrive.
#[test]
fn a_one_kib_buffer_serves_a_browser_request_with_a_two_kib_cookie() {
    let cookie = format!("session={}; theme=dark", "c".repeat(2048));
    let request = format!(
        "GET /dashboard?tab=1 HTTP/1.1\r\nHost: device.local\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nCookie: {cookie}\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\n\r\n"
    );
    assert!(request.len() > 2048 + 300);
    let keep: &[&str] = &["User-Agent", "Accept"];
    let config = Config {
        keep_headers: Some(keep),
        ..Config::DEFAULT
    };
    for split in [
        Split::Every(usize::MAX),
        Split::Every(1),
        Split::Every(7),
        Split::Every(100),
    ] {
        let t = run(&config, request.as_bytes(), split, 1024);
        assert_eq!(t.statuses(), [200], "{split:?}: {:?}", t.log);
        assert_eq!(t.env(0, "PATH_INFO"), Some(&b"/dashboard"[..]));
        assert_eq!(t.env(0, "HTTP_HOST"), Some(&b"device.local"[..]));
        assert!(
            t.env(0, "HTTP_USER_AGENT")
                .unwrap()
                .starts_with(b"Mozilla/5.0")
        );
        assert_eq!(t.env(0, "HTTP_COOKIE"), None);
        assert_eq!(t.env(0, "HTTP_ACCEPT_LANGUAGE"), None);
    }
    // Without filtering the same buffer cannot hold it: 431, not a crash.
    let t = run(
        &Config::DEFAULT,
        request.as_bytes(),
        Split::Every(usize::MAX),
        1024,
    );
    assert_eq!(t.statuses(), [431]);
    // A dropped field is still validated.
    let bad = request.replace("theme=dark", "theme=\x01");
    let t = run(&config, bad.as_bytes(), Split::Every(64), 1024);
    assert_eq!(t.statuses(), [400]);
}

/// Misuse returns a typed error and changes nothing.
#[test]
fn api_misuse_is_a_local_error() {
    let config = Config::DEFAULT;
    let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    let mut arena = [0u8; 64];
    assert!(matches!(
        conn.exchange(&mut arena),
        Err(LocalError::InvalidState)
    ));
    feed(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(conn.poll_event(ms(0)), Event::Request);
    let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
    assert_eq!(ex.write(b"x").err(), Some(LocalError::InvalidState));
    assert_eq!(ex.finish().err(), Some(LocalError::InvalidState));
    let none: &[(&str, &str)] = &[];
    assert_eq!(ex.start_response("20 OK", none), Err(LocalError::BadStatus));
    assert_eq!(
        ex.start_response("200 OK\r\nX: y", none),
        Err(LocalError::BadStatus)
    );
    assert_eq!(
        ex.start_response("200 OK", &[("X", "a\r\nSet-Cookie: evil")]),
        Err(LocalError::BadHeaderValue)
    );
    assert_eq!(
        ex.start_response("200 OK", &[("Bad Name", "v")]),
        Err(LocalError::BadHeaderName)
    );
    assert_eq!(
        ex.start_response("200 OK", &[("Connection", "close")]),
        Err(LocalError::HopByHopHeader)
    );
    ex.start_response("200 OK", &[("Content-Length", "3")])
        .unwrap();
    assert_eq!(
        ex.start_response("200 OK", none),
        Err(LocalError::AlreadyStarted)
    );
    ex.restart_response("500 Oops", none).unwrap();
    ex.restart_response("200 OK", &[("Content-Length", "3")])
        .unwrap();
    assert_eq!(ex.write(b"toolong").err(), Some(LocalError::BodyTooLong));
    let t = ex.write(b"abc").unwrap();
    assert_eq!(t.body, b"abc");
    assert_eq!(
        ex.restart_response("500 Oops", none),
        Err(LocalError::HeadersAlreadySent)
    );
    let _ = ex.finish().unwrap();
    assert_eq!(ex.finish().err(), Some(LocalError::InvalidState));
    // BodyTooLong poisoned persistence: the connection closes.
    assert_eq!(conn.poll_event(ms(0)), Event::Close);
}

/// The response head: lazy, framing chosen by what is known, exact bytes.
#[test]
fn response_framing_vectors() {
    let config = Config::DEFAULT;
    // (request, status, headers, writes: (data, whole), expected output)
    type Vector = (
        &'static [u8],
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [(&'static [u8], bool)],
        &'static [u8],
    );
    let table: &[Vector] = &[
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "200 OK",
            &[("Content-Type", "text/plain")],
            &[(b"Hello, world!", true)],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "200 OK",
            &[],
            &[(b"", false), (b"ab", false), (b"", false), (b"cde", false)],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.0\r\n\r\n",
            "200 OK",
            &[],
            &[(b"ab", false)],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nConnection: close\r\n\r\nab",
        ),
        (
            b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
            "200 OK",
            &[],
            &[(b"body", true)],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nContent-Length: 4\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "204 No Content",
            &[],
            &[],
            b"HTTP/1.1 204 No Content\r\nServer: wsgiref.rs/0.1\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "304 Not Modified",
            &[("ETag", "\"x\"")],
            &[],
            b"HTTP/1.1 304 Not Modified\r\nServer: wsgiref.rs/0.1\r\nETag: \"x\"\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "200 OK",
            &[],
            &[],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            "200 OK",
            &[("Content-Length", "5")],
            &[(b"ab", false), (b"c", false)],
            b"HTTP/1.1 200 OK\r\nServer: wsgiref.rs/0.1\r\nContent-Length: 5\r\n\r\nabc",
        ),
    ];
    for (request, status, headers, writes, expected) in table {
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
        let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
        feed(&mut conn, request);
        assert_eq!(conn.poll_event(ms(0)), Event::Request);
        let mut arena = [0u8; 64];
        let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
        let mut out = Vec::new();
        ex.start_response(status, *headers).unwrap();
        for (data, whole) in *writes {
            let t = if *whole {
                ex.write_whole(data)
            } else {
                ex.write(data)
            }
            .unwrap();
            t.pieces().iter().for_each(|p| out.extend_from_slice(p));
        }
        let t = ex.finish().unwrap();
        t.pieces().iter().for_each(|p| out.extend_from_slice(p));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected),
            "{status} {writes:?}"
        );
    }
}

/// A large Content-Length body (100 octets, `max_drain` 16) does not cost keep-alive when
/// the application reads it while its response streams. When the application has not asked
/// for a byte of it before the head goes out, the head says `Connection: close` (RFC 9112
/// §9.6) and the connection closes after the response, read or not: what a head promised
/// holds.
#[test]
fn large_bodies_keep_alive_when_read_and_close_announced_when_left() {
    let config = wsgiref::Config {
        limits: wsgiref::Limits {
            max_drain: 16,
            ..wsgiref::Limits::DEFAULT
        },
        ..Config::DEFAULT
    };
    // (asks for the body before writing, reads all of it, close announced, next event)
    let table = [
        (true, true, false, Event::NextCycle),
        (false, true, true, Event::Close),
        (false, false, true, Event::Close),
    ];
    for (read_first, read_all, announced, after) in table {
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 512]);
        let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
        feed(
            &mut conn,
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n",
        );
        assert_eq!(conn.poll_event(ms(0)), Event::Request);
        {
            let mut arena = [0u8; 64];
            let (_env, mut ex) = conn.exchange(&mut arena).unwrap();
            let mut got = 0;
            let mut read = |ex: &mut wsgiref::Exchange<'_>, until: usize| {
                while got < until {
                    match ex.poll_body(ms(0)).unwrap() {
                        Body::Data(d) => got += d.len(),
                        Body::NeedData => {
                            ex.receive_buf()[..10].fill(b'z');
                            ex.handle_received(10);
                        }
                        other => panic!("{other:?}"),
                    }
                }
            };
            if read_first {
                read(&mut ex, 10);
            }
            ex.start_response("200 OK", &[] as &[(&str, &str)]).unwrap();
            let head = ex.write(b"x").unwrap().head.to_vec();
            assert_eq!(
                head.windows(17).any(|w| w == b"Connection: close"),
                announced,
                "read first {read_first}: {}",
                String::from_utf8_lossy(&head)
            );
            if read_all {
                read(&mut ex, 100);
            }
            let _ = ex.finish().unwrap();
        }
        // Announced: closed at once (the unread rest is never parsed as a request); else
        // the next request may begin.
        assert_eq!(
            conn.poll_event(ms(0)),
            after,
            "read first {read_first}, all {read_all}"
        );
    }
}
