//! The seed's "Hello World" WSGI application, served on http://127.0.0.1:8000/ (or the
//! port given as the argument).
//!
//! ```text
//! cargo run --example hello [-- PORT]
//! curl http://127.0.0.1:8000/
//! ```

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref_std::server::make_server;

/// Every WSGI application is an application object: here a function taking the request
/// (the environ, `wsgi.input`, `wsgi.errors`) and the `start_response` callable.
fn hello_world_app(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    let status = "200 OK"; // HTTP Status
    let headers = [("Content-type", "text/plain; charset=utf-8")]; // HTTP Headers
    start_response.start(status, &headers)?;

    // The returned body is what is sent.
    Ok(Bytes::new(b"Hello World"))
}

fn main() -> std::io::Result<()> {
    let port = port()?;
    let httpd = make_server("127.0.0.1", port, hello_world_app)?;
    println!("Serving on port {port}...");

    // Serve until the process is killed.
    httpd.serve_forever()
}

/// The port: the first argument, 8000 without one.
fn port() -> std::io::Result<u16> {
    std::env::args().nth(1).map_or(Ok(8000), |arg| {
        arg.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad port {arg:?}: {e}"),
            )
        })
    })
}
