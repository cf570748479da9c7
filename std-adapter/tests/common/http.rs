//! HTTP client helpers shared by the real-client tests (`common/clients.rs`, and the tokio
//! adapter's `tests/clients.rs`): temporary directories, running curl and python3,
//! deterministic payloads, and a strict HTTP/1.1 response parser.
#![allow(dead_code)] // each test crate uses a different subset

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("wsgiref-it-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Deterministic bytes of every value (xorshift), so a lost or swapped byte shows.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// Runs a client program; a missing program fails with what to install.
pub(crate) fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install it (CI's .ci/run installs curl, python3 and nginx)")
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// curl, silent but showing errors, bounded in time.
pub(crate) fn curl(args: &[&str]) -> Output {
    let mut all = vec!["-sS", "--max-time", "10"];
    all.extend_from_slice(args);
    run("curl", &all)
}

/// A header value from a raw head (case-insensitive name; the first one).
pub(crate) fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// ---------------------------------------------------------------------------------------
// A strict HTTP/1.1 response reader for the raw tests.

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The status line and header lines, CRLF-separated, without the blank line.
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }
}

/// The longest a test's socket read or write may stall.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to `addr`, reads and writes bounded by [`IO_TIMEOUT`].
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// One fresh connection to `addr`, one GET, the whole response.
pub(crate) fn get(addr: SocketAddr, target: &str) -> Response {
    let mut s = connect(addr);
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let all = read_to_eof(&mut s);
    let (responses, rest) = parse_responses(&all, &["GET"]);
    assert!(rest.is_empty(), "bytes after the response: {rest:?}");
    responses.into_iter().next().expect("one response")
}

/// Reads until the peer closes; a stall of `IO_TIMEOUT` fails the test.
pub(crate) fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after everything was sent also ends the stream.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) => panic!(
                "no EOF from the server ({e}); got so far: {:?}",
                String::from_utf8_lossy(&all)
            ),
        }
    }
}

/// Parses one response from the front of `buf`: `Ok(Some((response, used)))`, `Ok(None)`
/// if incomplete, `Err` if malformed. `eof` says no more bytes will come.
pub(crate) fn parse_one(
    buf: &[u8],
    method: &str,
    eof: bool,
) -> Result<Option<(Response, usize)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof && !buf.is_empty() {
            Err(format!(
                "truncated head: {:?}",
                String::from_utf8_lossy(buf)
            ))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end])
        .map_err(|_| "head is not UTF-8".to_string())?
        .to_string();
    let status_line = head.lines().next().unwrap_or("");
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let start = end + 4;
    let rest = &buf[start..];
    let no_body =
        method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304;
    if no_body {
        return Ok(Some((
            Response {
                status,
                head,
                body: Vec::new(),
            },
            start,
        )));
    }
    if header(&head, "Transfer-Encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let Some(line_end) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                return if eof {
                    Err("truncated chunk size".into())
                } else {
                    Ok(None)
                };
            };
            let line = std::str::from_utf8(&rest[at..at + line_end]).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("bad chunk size line {line:?}"))?;
            at += line_end + 2;
            if size == 0 {
                // No trailers from this server: the blank line ends the body.
                if rest.len() < at + 2 {
                    return if eof {
                        Err("truncated last chunk".into())
                    } else {
                        Ok(None)
                    };
                }
                if &rest[at..at + 2] != b"\r\n" {
                    return Err("trailers or garbage after the last chunk".into());
                }
                return Ok(Some((Response { status, head, body }, start + at + 2)));
            }
            if rest.len() < at + size + 2 {
                return if eof {
                    Err("truncated chunk".into())
                } else {
                    Ok(None)
                };
            }
            body.extend_from_slice(&rest[at..at + size]);
            if &rest[at + size..at + size + 2] != b"\r\n" {
                return Err("chunk not followed by CRLF".into());
            }
            at += size + 2;
        }
    }
    if let Some(cl) = header(&head, "Content-Length") {
        let len: usize = cl
            .parse()
            .map_err(|_| format!("bad Content-Length {cl:?}"))?;
        if rest.len() < len {
            return if eof {
                Err(format!("body cut at {} of {len}", rest.len()))
            } else {
                Ok(None)
            };
        }
        let body = rest[..len].to_vec();
        return Ok(Some((Response { status, head, body }, start + len)));
    }
    // Delimited by close.
    if eof {
        Ok(Some((
            Response {
                status,
                head,
                body: rest.to_vec(),
            },
            buf.len(),
        )))
    } else {
        Ok(None)
    }
}

/// Parses every response in a stream read to its end; `methods[i]` is the method of the
/// i-th request (the last one repeats). Returns the responses and unparsed bytes.
pub(crate) fn parse_responses<'b>(
    mut buf: &'b [u8],
    methods: &[&str],
) -> (Vec<Response>, &'b [u8]) {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let method = methods
            .get(out.len())
            .or(methods.last())
            .copied()
            .unwrap_or("GET");
        match parse_one(buf, method, true) {
            Ok(Some((r, used))) => {
                out.push(r);
                buf = &buf[used..];
            }
            Ok(None) => break,
            Err(e) => panic!(
                "response {} malformed: {e}\nstream: {:?}",
                out.len(),
                String::from_utf8_lossy(buf)
            ),
        }
    }
    (out, buf)
}

/// Reads exactly one response from a connection that stays open.
pub(crate) fn read_response(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    method: &str,
) -> Response {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match parse_one(pending, method, false) {
            Ok(Some((r, used))) => {
                pending.drain(..used);
                return r;
            }
            Ok(None) => {}
            Err(e) => panic!("malformed response: {e}"),
        }
        let n = stream.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "waiting for a response ({e}); got {:?}",
                String::from_utf8_lossy(pending)
            )
        });
        if n == 0 {
            match parse_one(pending, method, true) {
                Ok(Some((r, used))) => {
                    pending.drain(..used);
                    return r;
                }
                _ => panic!(
                    "connection closed mid-response: {:?}",
                    String::from_utf8_lossy(pending)
                ),
            }
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

// ---------------------------------------------------------------------------------------
// curl
