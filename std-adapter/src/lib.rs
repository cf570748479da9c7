//! wsgiref for Rust on std: `simple_server` ([`server`], a pool of worker threads), an
//! epoll event loop ([`poll`], what the `wsgiref` command serves on), the CGI gateways
//! ([`cgi`]), and the `wsgiref` command, all driving the one sans-IO core of the `wsgiref`
//! crate.
//!
//! ```no_run
//! use wsgiref::app::{AppError, Bytes, Request, StartResponse};
//! use wsgiref_std::server::make_server;
//!
//! fn hello(_: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
//!     -> Result<Bytes<&'static [u8]>, AppError>
//! {
//!     start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
//!     Ok(Bytes::new(b"Hello World"))
//! }
//!
//! let server = make_server("127.0.0.1", 8000, hello).unwrap();
//! println!("Serving on http://{}", server.server_address());
//! server.serve_forever().unwrap();
//! ```
#![forbid(unsafe_code)]

pub mod apps;
pub mod cgi;
pub mod file;
pub mod poll;
pub mod server;
pub mod transport;
