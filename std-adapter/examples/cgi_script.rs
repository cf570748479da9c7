//! An application run as a CGI script (`wsgiref.handlers.CGIHandler`): the web server puts
//! the request in the environment and on stdin, and reads the response from stdout.
//!
//! Try it by hand, as a web server would run it:
//!
//! ```text
//! cargo build --example cgi_script
//! REQUEST_METHOD=GET SERVER_NAME=localhost SERVER_PORT=80 SERVER_PROTOCOL=HTTP/1.1 \
//!   SCRIPT_NAME=/cgi-bin/app PATH_INFO=/a/b QUERY_STRING=x=1 \
//!   target/debug/examples/cgi_script
//! ```
//!
//! which prints
//!
//! ```text
//! Status: 200 OK
//! Content-Type: text/plain; charset=utf-8
//! Content-Length: 75
//!
//! Hello from a CGI script!
//! The request: http://localhost/cgi-bin/app/a/b?x=1
//! ```

use std::process::ExitCode;

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref::util::try_request_uri;
use wsgiref_std::cgi::CgiHandler;

/// Greets, and shows the URL of the request it was given.
fn app(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<Vec<u8>>, AppError> {
    let uri = try_request_uri(req.environ, true)
        .map_err(|_| AppError::new("not run as a CGI script: SERVER_NAME is not set"))?;
    let page = format!("Hello from a CGI script!\nThe request: {uri}\n");
    start_response.start("200 OK", &[("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Bytes::new(page.into_bytes()))
}

fn main() -> ExitCode {
    let outcome = CgiHandler::new().run(&app);
    // The error, if any, is already logged to stderr and answered with a 500.
    if outcome.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
