//! What the allocation-count tests share (`std-adapter/tests/alloc.rs` and
//! `tokio-adapter/tests/alloc.rs`): the application, a logging handler that formats every
//! access line into a sink, and a client that allocates nothing per request.

use std::io::{Read, Write};
use std::net::TcpStream;

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref_std::server::{AccessLog, RequestHandler};

/// The seed's hello world.
pub(crate) fn hello(
    _: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
    Ok(Bytes::new(b"Hello World"))
}

/// Formats the access log line (local time included) into a sink, so logging is measured
/// without filling the test output.
pub(crate) struct SinkLog;

impl RequestHandler for SinkLog {
    fn log_request(&self, line: &AccessLog<'_>) {
        let _ = write!(std::io::sink(), "{line}");
    }
}

/// The request every test sends: a query string and three fields.
pub(crate) const REQUEST: &[u8] =
    b"GET /hello?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: alloc-test\r\nAccept: */*\r\n\r\n";

/// Sends `n` requests on `stream`, one at a time, reading each whole response. Allocates
/// nothing.
pub(crate) fn requests(stream: &mut TcpStream, n: usize) {
    let mut buf = [0u8; 4096];
    for _ in 0..n {
        stream.write_all(REQUEST).unwrap();
        // Read one whole response: the head then 11 body bytes.
        let mut got = 0;
        loop {
            got += stream.read(&mut buf[got..]).unwrap();
            if let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n") {
                if got >= end + 4 + 11 {
                    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
                    break;
                }
            }
        }
    }
}
