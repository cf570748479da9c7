//! A client that reads its response steadily but slowly (shared by `poll.rs` and
//! `sendfile.rs`).

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// Reads one response with a `Content-Length` from `stream` at about `rate` bytes a second;
/// returns its head and body, or what went wrong (with the bytes read and the time taken).
pub(crate) fn read_slowly(stream: &mut TcpStream, rate: f64) -> Result<(String, Vec<u8>), String> {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let whole = |got: &[u8]| {
        let end = got.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = std::str::from_utf8(got.get(..end)?).ok()?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))?
            .parse()
            .ok()?;
        (got.len() >= end + len).then_some((end, len))
    };
    let (end, len) = loop {
        if let Some(whole) = whole(&got) {
            break whole;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => Err("closed".to_string()),
            Ok(n) => Ok(n),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|e| format!("{e} after {} bytes, {:?}", got.len(), started.elapsed()))?;
        got.extend_from_slice(&buf[..n]);
        let ahead = got.len() as f64 / rate - started.elapsed().as_secs_f64();
        if ahead > 0.0 {
            thread::sleep(Duration::from_secs_f64(ahead));
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    Ok((head, got[end..end + len].to_vec()))
}
