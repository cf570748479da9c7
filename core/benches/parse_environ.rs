//! Request-head parsing plus environ lookups, against `httparse` alone on the same bytes.
//!
//! Run: `cargo bench -p wsgiref --bench parse_environ -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wsgiref::{Body, Config, Connection, Event, Instant, Transmit};

/// The smallest valid HTTP/1.1 request (the core requires Host on 1.1).
const MINIMAL: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/// A realistic browser request: 10 header fields and a query string.
const BROWSER: &[u8] = b"GET /articles/2024/rust-embedded-http?page=2&sort=recent HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Referer: https://www.example.com/articles/2024/\r\n\
Cookie: session=3f2a9c; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Mode: navigate\r\n\
\r\n";

/// Our side: copy into the receive buffer, parse, build the environ, read five variables.
/// Returns the sum of the value lengths so nothing can be optimised away.
fn ours(
    config: &Config<'static>,
    rx: &mut [u8],
    tx: &mut [u8],
    arena: &mut [u8],
    req: &[u8],
) -> usize {
    let mut conn: Connection<'_, 32> = Connection::new(config, rx, tx);
    let buf = conn.receive_buf();
    buf[..req.len()].copy_from_slice(req);
    conn.handle_received(req.len());
    if conn.poll_event(Instant::from_millis(0)) != Event::Request {
        return 0;
    }
    let Ok((environ, _exchange)) = conn.exchange(arena) else {
        return 0;
    };
    let mut total = 0;
    for key in [
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "HTTP_HOST",
        "HTTP_USER_AGENT",
    ] {
        total += black_box(environ.get(black_box(key))).map_or(0, <[u8]>::len);
    }
    total
}

/// Baseline: copy into a buffer, `httparse::Request::parse`, then the same five values as
/// [`ours`]: method, path and query (the target split at its first `?`), and the `Host` and
/// `User-Agent` values (case-insensitive name searches).
fn baseline(buf: &mut [u8], req: &[u8]) -> usize {
    buf[..req.len()].copy_from_slice(req);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..req.len()]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return 0,
    }
    let target = black_box(parsed.path).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut total = black_box(parsed.method).map_or(0, str::len);
    total += black_box(path).len() + black_box(query).len();
    for name in ["host", "user-agent"] {
        let value = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(black_box(name)))
            .map_or(0, |h| h.value.len());
        total += black_box(value);
    }
    total
}

/// One keep-alive cycle on a persistent connection, as a server runs it for every request:
/// feed the request, take the environ, read the (empty) body, answer with the seed's hello
/// world (two headers, a whole body), finish, and reach the next cycle. Returns the bytes
/// the response would send (0 if any step went otherwise).
fn cycle(conn: &mut Connection<'_, 32>, arena: &mut [u8], req: &[u8]) -> usize {
    let now = Instant::from_millis(0);
    let buf = conn.receive_buf();
    let Some(dst) = buf.get_mut(..req.len()) else {
        return 0;
    };
    dst.copy_from_slice(req);
    conn.handle_received(req.len());
    if conn.poll_event(now) != Event::Request {
        return 0;
    }
    let Ok((environ, mut exchange)) = conn.exchange(arena) else {
        return 0;
    };
    let mut sent = black_box(environ.get(black_box("PATH_INFO"))).map_or(0, <[u8]>::len);
    if exchange.poll_body(now) != Ok(Body::End) {
        return 0;
    }
    let headers = [("Content-Type", "text/plain"), ("Content-Length", "13")];
    if exchange.start_response("200 OK", &headers).is_err() {
        return 0;
    }
    let bytes = |t: Transmit<'_>| t.pieces().map(|p| black_box(p).len()).iter().sum::<usize>();
    let Ok(t) = exchange.write_whole(b"Hello world!\n") else {
        return 0;
    };
    sent += bytes(t);
    let Ok(t) = exchange.finish() else {
        return 0;
    };
    sent += bytes(t);
    if conn.poll_event(now) != Event::NextCycle || conn.poll_event(now) != Event::NeedData {
        return 0;
    }
    sent
}

/// Checked once, outside the timing: both sides parse the fixture and see the right path.
fn check(req: &[u8], path: &[u8]) {
    let config = Config::DEFAULT;
    let (mut rx, mut tx, mut arena) = ([0u8; 4096], [0u8; 1024], [0u8; 256]);
    let mut conn: Connection<'_, 32> = Connection::new(&config, &mut rx, &mut tx);
    let buf = conn.receive_buf();
    buf[..req.len()].copy_from_slice(req);
    conn.handle_received(req.len());
    assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    let (environ, _exchange) = conn.exchange(&mut arena).expect("exchange");
    assert_eq!(environ.get("REQUEST_METHOD"), Some(&b"GET"[..]));
    assert_eq!(environ.get("PATH_INFO"), Some(path));
    assert!(environ.get("HTTP_HOST").is_some());

    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    assert_eq!(parsed.parse(req), Ok(httparse::Status::Complete(req.len())));

    // Both sides read the same five values: their lengths add up to the same total.
    let ours_total = ours(&config, &mut rx, &mut tx, &mut arena, req);
    assert_ne!(ours_total, 0);
    assert_eq!(ours_total, baseline(&mut rx, req));
}

fn bench(c: &mut Criterion) {
    check(MINIMAL, b"/");
    check(BROWSER, b"/articles/2024/rust-embedded-http");
    let mut rx = [0u8; 4096];
    let mut tx = [0u8; 1024];
    let mut arena = [0u8; 256];
    let mut group = c.benchmark_group("parse_environ");
    for (name, req) in [("minimal", MINIMAL), ("browser", BROWSER)] {
        let config = Config::DEFAULT;
        group.bench_function(format!("wsgiref/{name}"), |b| {
            b.iter(|| ours(&config, &mut rx, &mut tx, &mut arena, black_box(req)));
        });
        group.bench_function(format!("httparse/{name}"), |b| {
            b.iter(|| baseline(&mut rx, black_box(req)));
        });
    }
    group.finish();

    // Not against httparse (it has no response side): the core's whole per-request work
    // on a keep-alive connection, for the load benchmark's server (docs/BENCHMARKS.md).
    let config = Config::DEFAULT;
    let mut conn: Connection<'_, 32> = Connection::new(&config, &mut rx, &mut tx);
    assert!(
        cycle(&mut conn, &mut arena, MINIMAL) > 13,
        "a whole hello cycle"
    );
    assert!(
        cycle(&mut conn, &mut arena, MINIMAL) > 13,
        "and the next one"
    );
    let mut group = c.benchmark_group("keepalive_cycle");
    group.bench_function("wsgiref/hello", |b| {
        b.iter(|| cycle(&mut conn, &mut arena, black_box(MINIMAL)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
