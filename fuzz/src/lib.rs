//! Helpers shared by the fuzz targets: a deterministic driver that feeds bytes to a
//! `Connection` in pieces, serves every request with a recording application and returns a
//! transcript (the approach of `core/tests/common`, copied: fuzz code does not import test
//! code), plus small independent oracles.

use arbitrary::Arbitrary;
use wsgiref::{Body, Config, Connection, Event, Instant, Limits, Value};

/// Everything observable about one run.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
pub struct Transcript {
    /// One environ per request: every (key, value) in iteration order.
    pub environs: Vec<Vec<(String, Vec<u8>)>>,
    /// One body per request, as the application read it.
    pub bodies: Vec<Vec<u8>>,
    /// Events and errors, in order.
    pub log: Vec<String>,
    /// Every byte sent to the client.
    pub output: Vec<u8>,
    /// The responses the core generated itself (`Event::Send`), whole.
    pub sends: Vec<Vec<u8>>,
    /// The error responses of `Exchange::fail` after a body error.
    pub fails: Vec<Vec<u8>>,
    /// Whether the run ended with `Event::Close` (false: stuck with a full buffer).
    pub closed: bool,
}

impl Transcript {
    /// The value of `key` in the environ of request `i`.
    pub fn env(&self, i: usize, key: &str) -> Option<&[u8]> {
        self.environs
            .get(i)?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| &v[..])
    }
}

/// How the input is cut into reads: the sizes are used in turn, cycling (0 counts as 1);
/// an empty list means one read as large as the buffer allows.
#[derive(Clone, Debug)]
pub struct Feeder<'i> {
    input: &'i [u8],
    fed: usize,
    sizes: &'i [u8],
    turn: usize,
}

impl<'i> Feeder<'i> {
    pub fn new(input: &'i [u8], sizes: &'i [u8]) -> Self {
        Self {
            input,
            fed: 0,
            sizes,
            turn: 0,
        }
    }

    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let limit = if self.sizes.is_empty() {
            usize::MAX
        } else {
            let s = usize::from(self.sizes[self.turn % self.sizes.len()]).max(1);
            s
        };
        let n = limit.min(buf.len()).min(self.input.len() - self.fed);
        if n == 0 {
            return None;
        }
        self.turn += 1;
        buf[..n].copy_from_slice(&self.input[self.fed..self.fed + n]);
        self.fed += n;
        Some(n)
    }

    fn done(&self) -> bool {
        self.fed == self.input.len()
    }
}

pub fn value_bytes(v: Value<'_>) -> Vec<u8> {
    match v {
        Value::Str(s) => s.to_vec(),
        Value::Bool(b) => (if b { "True" } else { "False" }).into(),
        Value::Version(a, b) => format!("({a}, {b})").into_bytes(),
        _ => b"?".to_vec(),
    }
}

/// The status code of a response head, parsed with httparse (which must accept it).
pub fn response_status(bytes: &[u8]) -> u16 {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut res = httparse::Response::new(&mut headers);
    match res.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => res.code.expect("a status code"),
        other => panic!(
            "a response the core wrote does not parse: {other:?}: {:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// Runs `input` through a connection with a receive buffer of `rx_len` bytes and a 4 KiB
/// send buffer. The application reads the whole body, then answers 200 with the body echoed.
///
/// Invariants asserted on the way: every response the core writes itself (`Event::Send`,
/// `fail` after a body error) is a well-formed 4xx/5xx, and nothing is served after one.
pub fn run(config: &Config<'_>, input: &[u8], sizes: &[u8], rx_len: usize) -> Transcript {
    let mut rx = vec![0u8; rx_len];
    let mut tx = vec![0u8; 4096];
    let mut conn: Connection<'_, 32> = Connection::new(config, &mut rx, &mut tx);
    let mut feed = Feeder::new(input, sizes);
    let now = Instant::from_millis(0);
    let mut t = Transcript::default();
    let mut errored = false;
    for _ in 0..1_000_000 {
        match conn.poll_event(now) {
            Event::NeedData => match feed.next(conn.receive_buf()) {
                Some(n) => conn.handle_received(n),
                None if feed.done() => conn.handle_eof(),
                None => {
                    t.log.push("stuck: receive buffer full".into());
                    return t;
                }
            },
            Event::Request => {
                assert!(!errored, "a request was served after an error response");
                if serve(&mut conn, &mut feed, &mut t) {
                    errored = true;
                }
            }
            Event::Send(bytes) => {
                assert!(!errored, "a second error response after an error response");
                let status = response_status(bytes);
                assert!(
                    (400..600).contains(&status),
                    "the core sent a non-error response itself: {status}"
                );
                errored = true;
                t.log.push(format!("send {status}"));
                t.sends.push(bytes.to_vec());
                t.output.extend_from_slice(bytes);
            }
            Event::NextCycle => {
                assert!(!errored, "NextCycle after an error response");
                t.log.push("next".into());
            }
            Event::Close => {
                t.log.push("close".into());
                t.closed = true;
                return t;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    panic!("the driver did not finish");
}

/// Serves one request; returns true if it was answered with an error response.
fn serve(conn: &mut Connection<'_, 32>, feed: &mut Feeder<'_>, t: &mut Transcript) -> bool {
    let now = Instant::from_millis(0);
    let mut arena = [0u8; 256];
    let (environ, mut ex) = conn.exchange(&mut arena).expect("exchange in Request");
    t.environs.push(
        environ
            .iter()
            .map(|(k, v)| (k.to_string(), value_bytes(v)))
            .collect(),
    );
    t.log.push(format!(
        "request {}",
        String::from_utf8_lossy(environ.get("PATH_INFO").unwrap_or(b"?"))
    ));
    let mut body = Vec::new();
    let mut stalls = 0;
    loop {
        match ex.poll_body(now) {
            Ok(Body::Data(d)) => {
                stalls = 0;
                body.extend_from_slice(d)
            }
            Ok(Body::End) => break,
            Ok(Body::Continue(bytes)) => {
                t.log.push("continue".into());
                t.output.extend_from_slice(bytes)
            }
            Ok(Body::NeedData) => match feed.next(ex.receive_buf()) {
                Some(n) => {
                    stalls = 0;
                    ex.handle_received(n)
                }
                None if feed.done() => {
                    stalls += 1;
                    assert!(stalls < 4, "NeedData forever after EOF");
                    ex.handle_eof()
                }
                None => panic!("receive buffer full while reading the body"),
            },
            Ok(other) => panic!("unexpected body step {other:?}"),
            Err(e) => {
                t.log.push(format!("body error {e:?}"));
                t.bodies.push(body);
                let out = ex.fail();
                let bytes = out.pieces().concat();
                let status = response_status(&bytes);
                assert!(
                    (400..600).contains(&status),
                    "a body error answered with {status}"
                );
                t.fails.push(bytes.clone());
                t.output.extend_from_slice(&bytes);
                return true;
            }
        }
    }
    let headers = [("Content-Type", "text/plain")];
    ex.start_response("200 OK", &headers)
        .expect("start_response");
    let out = ex.write_whole(&body).expect("write");
    for piece in out.pieces() {
        t.output.extend_from_slice(piece);
    }
    let out = ex.finish().expect("finish");
    for piece in out.pieces() {
        t.output.extend_from_slice(piece);
    }
    t.bodies.push(body);
    false
}

/// Header names a fuzzed `keep_headers` list may hold.
pub const KEEP: &[&str] = &["X-Keep", "user-agent", "Cookie", "x_under", "Accept"];

/// A small fuzzed configuration.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct FuzzConfig {
    pub max_request_line: u16,
    pub max_head: u16,
    pub max_headers: u8,
    pub max_body: u16,
    pub max_chunk_line: u16,
    pub max_trailers: u16,
    pub max_drain: u16,
    pub max_empty_lines: u8,
    /// 0: keep every field; otherwise keep the first `n - 1` names of [`KEEP`].
    pub keep: u8,
    /// Receive buffer size, 64 + this (mod 4096).
    pub rx: u16,
    /// Use the default limits instead of the fuzzed ones.
    pub defaults: bool,
}

impl FuzzConfig {
    pub fn config(&self) -> Config<'static> {
        let limits = if self.defaults {
            Limits::DEFAULT
        } else {
            Limits {
                max_request_line: usize::from(self.max_request_line % 2048) + 16,
                max_head: usize::from(self.max_head % 8192) + 16,
                max_headers: usize::from(self.max_headers % 40),
                max_body: u64::from(self.max_body % 4096),
                max_chunk_line: usize::from(self.max_chunk_line % 256) + 1,
                max_trailers: usize::from(self.max_trailers % 1024),
                max_drain: u64::from(self.max_drain % 4096),
                max_empty_lines: usize::from(self.max_empty_lines % 4),
            }
        };
        let keep_headers = match self.keep % 7 {
            0 => None,
            n => Some(&KEEP[..usize::from(n - 1).min(KEEP.len())]),
        };
        Config {
            limits,
            keep_headers,
            ..Config::DEFAULT
        }
    }

    pub fn rx_len(&self) -> usize {
        64 + usize::from(self.rx % 4096)
    }
}

/// The CGI/WSGI `HTTP_*` key of a header field name: upper case, `-` as `_`.
pub fn http_key(name: &[u8]) -> String {
    let mut s = String::from("HTTP_");
    for &b in name {
        s.push(char::from(if b == b'-' {
            b'_'
        } else {
            b.to_ascii_uppercase()
        }));
    }
    s
}

/// An independent percent-decode of a request path: a leading run of `/` becomes one `/`,
/// `%XX` with two hex digits becomes that byte, anything else stays literal.
pub fn decode_path(raw: &[u8]) -> Vec<u8> {
    let mut raw = raw;
    while raw.starts_with(b"//") {
        raw = &raw[1..];
    }
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// The path part of an origin-form target (up to `?`), or `None` for other forms.
pub fn origin_path(target: &[u8]) -> Option<&[u8]> {
    if target.first() != Some(&b'/') {
        return None;
    }
    Some(match target.iter().position(|&b| b == b'?') {
        Some(q) => &target[..q],
        None => target,
    })
}
