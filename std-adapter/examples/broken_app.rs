//! The seed's deliberately broken application, under the validator
//! (`wsgiref.validate.validator`).
//!
//! The seed's application returns the byte string `b"Hello World"` instead of a list holding
//! it. In Rust that mistake does not compile (a byte string is not a `Body`; see the
//! `wsgiref::validate` docs), so this application makes one that does: it forgets the
//! `Content-Type` header. The gateway would send that response; the validator refuses it.
//!
//! The example serves on port 8000 as the seed does (or on the port given as the argument), and requests itself once right away so
//! the validator's error shows at once: the client gets `500 Internal Server Error`, and the
//! server's stderr has the validator's complete message and the error it raised:
//!
//! ```text
//! wsgiref.validate: No Content-Type header found in headers ([('X-Greeting', 'Hello')])
//! AssertionError: No Content-Type header found in headers
//! ```
//!
//! ```text
//! cargo run --example broken_app [-- PORT]
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref::validate::validator;
use wsgiref_std::server::make_server;

/// Not compliant with PEP 3333's rules as the validator reads them: no `Content-Type`.
fn simple_app(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    let status = "200 OK"; // HTTP Status
    let headers = [("X-Greeting", "Hello")]; // HTTP Headers, missing Content-Type
    // This is going to break: the validator checks the headers here, and informs us.
    start_response.start(status, &headers)?;
    Ok(Bytes::new(b"Hello World"))
}

fn main() -> std::io::Result<()> {
    // This is the application wrapped in a validator.
    let validator_app = validator(simple_app);

    let port = port()?;
    let httpd = make_server("127.0.0.1", port, validator_app)?;
    println!("Listening on port {port}....");

    // One request to show the error, then serve until the process is killed.
    let addr = httpd.server_address();
    std::thread::spawn(move || {
        let answer = TcpStream::connect(addr).and_then(|mut stream| {
            stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        });
        match answer {
            Ok(answer) => println!("GET / answered:\n{answer}\n"),
            Err(e) => eprintln!("GET / failed: {e}"),
        }
    });
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
