//! # wsgiref for Rust: the sans-IO core
//!
//! Python's `wsgiref` (the WSGI reference implementation) rebuilt for Rust as a `no_std`,
//! no-alloc, sans-IO HTTP/1.1 gateway core. It is fed bytes and returns events and bytes to
//! send; it never touches a socket, a clock, a thread or the heap. Adapters (std sockets,
//! CGI, embassy-net, any event loop) are thin loops around one [`Connection`].
//!
//! ## The drain contract
//!
//! Inputs go in through `handle_*`, outputs come out of `poll_*`:
//!
//! 1. Read from the transport into [`Connection::receive_buf`] and report the count with
//!    [`Connection::handle_received`]; report the end of input with
//!    [`Connection::handle_eof`]; when the deadline of [`Connection::poll_timeout`] passes,
//!    call [`Connection::handle_timeout`].
//! 2. After **every** input, call [`Connection::poll_event`] until it returns
//!    [`Event::NeedData`] (go back to 1) or [`Event::Close`] (close the transport):
//!    * [`Event::Send`]: write these bytes (an error response the core produced itself);
//!    * [`Event::Request`]: a request head is complete. Take the environ and the
//!      [`Exchange`] from [`Connection::exchange`] and serve it: read the body with
//!      [`Exchange::poll_body`] (feeding [`Exchange::receive_buf`] when it says
//!      [`Body::NeedData`], sending [`Body::Continue`] bytes when it asks), answer with
//!      [`Exchange::start_response`], [`Exchange::write`] and [`Exchange::finish`] (or
//!      [`Exchange::fail`] on an application error). Every response call returns a
//!      [`Transmit`]: send its three pieces in order before the next call.
//!    * [`Event::NextCycle`]: the exchange is over and the connection persists.
//! 3. Bytes handed out (`Send`, `Transmit`, `Continue`) must be sent completely and in
//!    order; the core assumes they were.
//! 4. At [`Event::Close`], close gracefully (shut down the sending side, then briefly
//!    discard what the client still sends), unless [`Connection::must_reset`] says the
//!    last response was cut short where only the close delimits it: then close with a
//!    reset, the one way the client can tell (RFC 9112 §8).
//!
//! Time comes in as an argument ([`Instant`]); the core reports deadlines, the adapter arms
//! the timer. The same bytes give the same events however they are split into reads.
//!
//! ## A complete run loop
//!
//! A blocking loop over an in-memory stream (any `Read + Write` works the same way):
//!
//! ```
//! use std::io::{Cursor, Read, Write};
//! use wsgiref::{Body, Config, Connection, Event, Instant};
//!
//! /// The seed's hello world, served for every request.
//! fn serve<S: Read + Write>(stream: &mut S, config: &Config<'_>) -> std::io::Result<()> {
//!     let (mut rx, mut tx) = ([0u8; 2048], [0u8; 1024]);
//!     let mut conn: Connection<'_> = Connection::new(config, &mut rx, &mut tx);
//!     let now = || Instant::from_millis(0); // a real adapter reads its clock here
//!     loop {
//!         match conn.poll_event(now()) {
//!             Event::NeedData => match stream.read(conn.receive_buf())? {
//!                 0 => conn.handle_eof(),
//!                 n => conn.handle_received(n),
//!             },
//!             Event::Send(bytes) => stream.write_all(bytes)?,
//!             Event::Request => {
//!                 let mut arena = [0u8; 256];
//!                 let (environ, mut exchange) = conn.exchange(&mut arena).expect("in Request");
//!                 let name = environ.get("PATH_INFO").unwrap_or(b"/").to_vec();
//!                 // Read (and here discard) the request body.
//!                 loop {
//!                     match exchange.poll_body(now()) {
//!                         Ok(Body::Data(_)) => {}
//!                         Ok(Body::Continue(bytes)) => stream.write_all(bytes)?,
//!                         Ok(Body::NeedData) => match stream.read(exchange.receive_buf())? {
//!                             0 => exchange.handle_eof(),
//!                             n => exchange.handle_received(n),
//!                         },
//!                         Ok(_) => break, // Body::End
//!                         Err(_) => break, // answered by fail() below
//!                     }
//!                 }
//!                 if !exchange.body_done() {
//!                     let t = exchange.fail();
//!                     for piece in t.pieces() { stream.write_all(piece)?; }
//!                     continue;
//!                 }
//!                 exchange.start_response("200 OK", &[("Content-Type", "text/plain")])
//!                     .expect("valid status and headers");
//!                 let mut body = b"Hello ".to_vec();
//!                 body.extend_from_slice(&name);
//!                 for t in [exchange.write_whole(&body).expect("write")] {
//!                     for piece in t.pieces() { stream.write_all(piece)?; }
//!                 }
//!                 let t = exchange.finish().expect("finish");
//!                 for piece in t.pieces() { stream.write_all(piece)?; }
//!             }
//!             Event::NextCycle => {}
//!             Event::Close => return Ok(()),
//!             _ => return Ok(()),
//!         }
//!     }
//! }
//!
//! /// An in-memory stream: reads from `input`, collects what is written.
//! struct Pipe { input: Cursor<Vec<u8>>, output: Vec<u8> }
//! impl Read for Pipe {
//!     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> { self.input.read(buf) }
//! }
//! impl Write for Pipe {
//!     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { self.output.write(buf) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let requests = b"GET /world HTTP/1.1\r\nHost: a\r\n\r\n\
//!                  POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc\
//!                  GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
//! let mut pipe = Pipe { input: Cursor::new(requests.to_vec()), output: Vec::new() };
//! serve(&mut pipe, &Config::DEFAULT).unwrap();
//! let out = String::from_utf8(pipe.output).unwrap();
//! assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 3);
//! assert!(out.contains("Content-Length: 12\r\n\r\nHello /world"));
//! assert!(out.ends_with("Connection: close\r\n\r\nHello /bye"));
//! ```
//!
//! ## An application
//!
//! The seed's hello world, as an [`app::Application`] (a plain function is one):
//!
//! ```
//! use wsgiref::app::{AppError, Bytes, Request, StartResponse};
//!
//! fn hello_world_app(
//!     _req: &mut Request<'_, '_>,
//!     start_response: &mut StartResponse<'_>,
//! ) -> Result<Bytes<&'static [u8]>, AppError> {
//!     let headers = [("Content-type", "text/plain; charset=utf-8")];
//!     start_response.start("200 OK", &headers)?;
//!     Ok(Bytes::new(b"Hello World"))
//! }
//! # fn is_app(_: &impl wsgiref::app::Application) {}
//! # is_app(&hello_world_app);
//! ```
//!
//! [`handler::run`] runs it against any gateway: an HTTP [`Exchange`] ([`handler::HttpIo`]),
//! CGI output ([`handler::CgiIo`]), or your own [`handler::Io`].
//!
//! ## Python names and their Rust counterparts
//!
//! | `wsgiref` | here |
//! |---|---|
//! | the WSGI application callable | [`app::Application`] (functions and [`app::from_fn`] closures) |
//! | `environ` | [`Environ`]: [`Environ::get`], [`Environ::value`], [`Environ::set`], [`Environ::remove`], [`Environ::iter`] |
//! | `start_response(status, headers)` / `(…, exc_info)` | [`app::StartResponse::start`] / [`app::StartResponse::restart`] |
//! | the `write(data)` callable | [`app::StartResponse::write`] |
//! | the returned iterable | [`app::Body`] ([`app::Bytes`], [`app::Blocks`], [`app::Stream`], [`app::Empty`]) |
//! | `wsgi.input`, `wsgi.errors` | [`app::Request::input`], [`app::Request::errors`] |
//! | `wsgi.file_wrapper`, `BaseHandler.sendfile` | [`app::FileBody`], [`handler::Io::send_file`] |
//! | `wsgiref.util.FileWrapper` | [`util::FileWrapper`] |
//! | `util.guess_scheme`, `application_uri`, `request_uri`, `shift_path_info`, `setup_testing_defaults`, `is_hop_by_hop` | [`util`] functions of the same names |
//! | `wsgiref.headers.Headers` (`get_all`, `setdefault`, `add_header`, `keys`, `values`, `items`) | [`headers::Headers`] |
//! | `handlers.BaseHandler.run` | [`handler::run`] |
//! | `BaseHandler.get_stdin`, `get_stderr`, `_write`, `_flush`, `add_cgi_vars` | [`handler::Io`], [`handler::Transport`] |
//! | `BaseHandler.setup_environ`, `os_environ` | [`Connection::exchange`] → [`Environ`] (no process environment leaks in) |
//! | `BaseHandler.error_output`, `error_status`, `error_headers`, `error_body` | [`handler::ErrorOutput`], [`Exchange::fail`] |
//! | `BaseHandler.log_exception`, `traceback_limit` | [`handler::Outcome::error`] (the adapter logs it; there are no tracebacks) |
//! | `BaseHandler.origin_server`, `http_version`, `server_software` | [`OutputMode`], [`Config::http_version`], [`Gateway::server_software`] |
//! | `wsgi_multithread`, `wsgi_multiprocess`, `wsgi_run_once`, `get_scheme` | [`Gateway`] |
//! | `handlers.SimpleHandler`, `BaseCGIHandler` | [`handler::ResponseWriter`] + [`handler::CgiIo`] |
//! | `handlers.format_date_time` | [`format_date_time`] |
//! | `validate.validator` | [`validate::validator`] |
//! | `simple_server.demo_app` | [`demo::demo_app`] |
//! | `simple_server.WSGIRequestHandler.get_environ` | [`Connection::exchange`] |
//! | `make_server`, `WSGIServer` (`serve_forever`, `handle_request`, `set_app`, `get_app`, `server_close`), `CGIHandler`, `IISCGIHandler`, `read_environ` | the std adapter, `wsgiref-std` (`server`, `cgi`) |
//!
//! `docs/ARCHITECTURE.md` has the states, the lifecycle and this table with notes.
//!
//! ## Features
//!
//! * `log` / `defmt`: logging through one of them (mutually exclusive); `defmt` also derives
//!   `defmt::Format` on the public types.
//! * `std`: nothing the core needs; reserved for conveniences of std users.
//! * `small`: smaller code where size and speed trade, with the same behaviour (the
//!   request-head parser has only its byte-by-byte path, without the word-at-a-time fast
//!   paths and the 256-byte byte-class tables; the environ maps header names without a
//!   table); for firmware, whose flash matters more than the parser's speed.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::indexing_slicing
    )
)]

#[cfg(all(feature = "log", feature = "defmt"))]
compile_error!("features `log` and `defmt` are mutually exclusive");

#[cfg(any(feature = "std", test))]
extern crate std;

pub(crate) mod abnf;
pub mod app;
pub mod connection;
mod date;
pub mod demo;
pub mod environ;
mod error;
pub mod framing;
pub mod handler;
pub mod headers;
mod read;
pub mod state;
mod time;
pub mod util;
pub mod validate;
mod write;

pub use connection::{Body, Config, Connection, Event, Exchange, Limits, Timeouts};
pub use date::{DATE_LEN, format_date_time};
pub use environ::{Environ, Gateway, Key, Value};
pub use error::{LocalError, RemoteError};
pub use framing::Version;
pub use handler::{OutputMode, Transmit, run};
pub use time::Instant;
pub use write::reason_phrase;
