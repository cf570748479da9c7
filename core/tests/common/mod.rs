//! A deterministic driver: feeds a byte stream to a `Connection` in pieces of a given size,
//! serves every request with a recording application, and returns a transcript.
#![allow(dead_code, unreachable_pub)]

use wsgiref::{Body, Config, Connection, Event, Instant, Value};

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

    /// Status codes of the responses, in order (parsed from the output).
    pub fn statuses(&self) -> Vec<u16> {
        let text = &self.output;
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(pos) = find(&text[i..], b"HTTP/1.1 ") {
            let at = i + pos + 9;
            if let Ok(s) = std::str::from_utf8(&text[at..at + 3]) {
                if let Ok(code) = s.parse() {
                    if code != 100 {
                        out.push(code);
                    }
                }
            }
            i = at;
        }
        out
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How the input is cut into reads.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    /// Reads of at most this many bytes.
    Every(usize),
    /// One read up to this offset, then the rest.
    At(usize),
}

struct Feeder<'i> {
    input: &'i [u8],
    fed: usize,
    split: Split,
}

impl Feeder<'_> {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let limit = match self.split {
            Split::Every(n) => n,
            Split::At(k) if self.fed < k => k - self.fed,
            Split::At(_) => usize::MAX,
        };
        let n = limit.min(buf.len()).min(self.input.len() - self.fed);
        if n == 0 {
            return None;
        }
        buf[..n].copy_from_slice(&self.input[self.fed..self.fed + n]);
        self.fed += n;
        Some(n)
    }

    fn done(&self) -> bool {
        self.fed == self.input.len()
    }
}

fn value_bytes(v: Value<'_>) -> Vec<u8> {
    match v {
        Value::Str(s) => s.to_vec(),
        Value::Bool(b) => (if b { "True" } else { "False" }).into(),
        Value::Version(a, b) => format!("({a}, {b})").into_bytes(),
        _ => b"?".to_vec(),
    }
}

/// Runs `input` through a connection with buffers of `rx_len` and 4 KiB, `split` bytes at a
/// time. The application reads the whole body, then answers 200 with the body echoed.
pub fn run(config: &Config<'_>, input: &[u8], split: Split, rx_len: usize) -> Transcript {
    let mut rx = vec![0u8; rx_len];
    let mut tx = vec![0u8; 4096];
    let mut conn: Connection<'_, 32> = Connection::new(config, &mut rx, &mut tx);
    let mut feed = Feeder {
        input,
        fed: 0,
        split,
    };
    let now = Instant::from_millis(0);
    let mut t = Transcript::default();
    for _ in 0..100_000 {
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
                // The request line as received: the same whatever the reads were.
                let line = conn.request_line().map(String::from_utf8_lossy);
                t.log.push(format!("line {line:?}"));
                serve(&mut conn, &mut feed, &mut t);
            }
            Event::Send(bytes) => {
                t.log.push(format!(
                    "send {}",
                    String::from_utf8_lossy(&bytes[..12.min(bytes.len())])
                ));
                t.output.extend_from_slice(bytes);
                // What an access log shows of a rejected request: also the same whatever
                // the reads were.
                let line = conn.request_line().map(String::from_utf8_lossy);
                t.log
                    .push(format!("rejected {:?} {line:?}", conn.rejected()));
            }
            Event::NextCycle => t.log.push("next".into()),
            Event::Close => {
                t.log.push("close".into());
                return t;
            }
            _ => unreachable!(),
        }
    }
    panic!("the driver did not finish");
}

fn serve(conn: &mut Connection<'_, 32>, feed: &mut Feeder<'_>, t: &mut Transcript) {
    let now = Instant::from_millis(0);
    let mut arena = [0u8; 256];
    let (environ, mut ex) = conn.exchange(&mut arena).expect("exchange");
    let listed: Vec<(String, Vec<u8>)> = environ
        .iter()
        .map(|(k, v)| (k.to_string(), value_bytes(v)))
        .collect();
    // Every variable the iteration lists is what a lookup by its name finds.
    for (key, value) in &listed {
        let found = environ.value(key).map(value_bytes);
        assert_eq!(
            found.as_ref(),
            Some(value),
            "{key}: lookup and iteration differ"
        );
    }
    t.environs.push(listed);
    t.log.push(format!(
        "request {}",
        String::from_utf8_lossy(environ.get("PATH_INFO").unwrap_or(b"?"))
    ));
    let mut body = Vec::new();
    loop {
        match ex.poll_body(now) {
            Ok(Body::Data(d)) => body.extend_from_slice(d),
            Ok(Body::End) => break,
            Ok(Body::Continue(bytes)) => t.output.extend_from_slice(bytes),
            Ok(Body::NeedData) => match feed.next(ex.receive_buf()) {
                Some(n) => ex.handle_received(n),
                None if feed.done() => ex.handle_eof(),
                None => panic!("receive buffer full while reading the body"),
            },
            Ok(_) => unreachable!(),
            Err(e) => {
                t.log.push(format!("body error {e:?}"));
                t.bodies.push(body);
                let out = ex.fail();
                for piece in out.pieces() {
                    t.output.extend_from_slice(piece);
                }
                return;
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
}

/// Runs `input` whole and split at every size, asserting the transcripts are identical, and
/// returns it.
pub fn run_all_splits(config: &Config<'_>, input: &[u8], rx_len: usize) -> Transcript {
    let whole = run(config, input, Split::Every(usize::MAX), rx_len);
    let n = input.len().min(600);
    let splits = (1..n).map(Split::Every).chain((1..n).map(Split::At));
    for split in splits {
        let t = run(config, input, split, rx_len);
        assert_eq!(
            t,
            whole,
            "split {split:?} differs from whole for {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}
