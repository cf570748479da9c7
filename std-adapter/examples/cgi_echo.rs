//! A CGI script: an echo application run through [`CgiHandler`].
//!
//! It answers `200 OK` with the request body (read from `wsgi.input`, bounded by
//! `CONTENT_LENGTH`) as the response body, and the request's method, `PATH_INFO` and
//! `QUERY_STRING` in `X-Method`, `X-Path` and `X-Query` headers. Map it as a CGI program in
//! a web server (`scripts/cgi-lighttpd-test.sh` does, with lighttpd), or run it by hand:
//!
//! ```text
//! printf hello | env -i REQUEST_METHOD=POST PATH_INFO=/p QUERY_STRING=a=1 CONTENT_LENGTH=5 \
//!     target/debug/examples/cgi_echo
//! ```

use std::process::ExitCode;

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref_std::cgi::CgiHandler;

/// The echo application.
fn echo(req: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Result<Bytes<Vec<u8>>, AppError> {
    let mut body = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = req.input.read(&mut buf).map_err(AppError::from)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let var = |key: &str| req.environ.get(key).unwrap_or_default();
    sr.start_bytes(
        "200 OK",
        &[
            ("Content-Type", b"application/octet-stream"),
            ("X-Method", var("REQUEST_METHOD")),
            ("X-Path", var("PATH_INFO")),
            ("X-Query", var("QUERY_STRING")),
        ],
    )?;
    Ok(Bytes::new(body))
}

fn main() -> ExitCode {
    let outcome = CgiHandler::new().run(&echo);
    if outcome.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
