//! # wsgiref on embassy-net
//!
//! The embedded adapter of [`wsgiref`]: serves a WSGI-style [`Application`](wsgiref::app::Application)
//! over an [`embassy_net::Stack`] (smoltcp), `no_std`, without a heap. The same application
//! values run here as under the std server and as CGI scripts: [`wsgiref::demo::demo_app`],
//! [`wsgiref::demo::hello`], [`wsgiref::demo::echo`], and any of them wrapped in the
//! [`validator`](wsgiref::validate::Validator).
//!
//! * **A pool of sockets.** smoltcp has no accept backlog: a connection is accepted only by
//!   a socket that is listening when its SYN arrives. A [`Server`] runs `N` [`Slot`]s, each a
//!   socket listening on the same port and serving one connection at a time, so `N`
//!   connections (a browser opens about six) are served at once.
//! * **One core per connection.** Each slot drives a core [`wsgiref::Connection`] exactly
//!   as the crate docs' drain contract says: HTTP/1.1 keep-alive and pipelining, strict
//!   framing, the core's error responses, and every deadline the core reports (first byte,
//!   keep-alive idle, head, body) armed with embassy-time; socket writes have a timeout of
//!   their own ([`ServerConfig::write_timeout`]).
//! * **Bodies.** An [`AsyncApplication`] reads the request body itself, when and if it
//!   wants it ([`AsyncRequest::read_body`], into the slot's body buffer): `100 Continue` goes
//!   out only then, so a request answered without its body (a wrong token, a route that
//!   takes none) never makes a waiting client send it. A synchronous `Application` cannot
//!   wait for the socket from inside its call, so for it (every synchronous application is an
//!   `AsyncApplication`) the body is read whole before the call. Either way: `Content-Length`
//!   or chunked, up to the body buffer; a declared length over it is refused with `413`
//!   before the client sends it, a chunked body that outgrows it gets `413` too; both close
//!   the connection. The response body streams: each block the application produces is
//!   sent, the socket awaited, before the next is pulled.
//! * **Caller-owned memory.** A [`Slot`] holds the socket buffers and the core's buffers,
//!   sized by const generics (defaults: 1 KiB socket receive and transmit, 1 KiB request,
//!   512 bytes of response head, 1 KiB body). Nothing allocates.
//! * **Graceful close and stop.** A closing connection sends its FIN after the queued
//!   response and discards what the client still sends until it closes (bounded by
//!   [`ServerConfig::linger`]), so unread request bytes do not reset the response away.
//!   [`Server::stop`] closes idle connections, lets requests in flight finish, and makes
//!   [`Server::run`] return.
//!
//! ## Serving
//!
//! ```no_run
//! use embassy_net::Stack;
//! use wsgiref::demo::demo_app;
//! use wsgiref::validate::Validator;
//! use wsgiref_embassy::{Server, ServerConfig, Slot};
//!
//! async fn http(stack: Stack<'static>, slots: &'static mut [Slot; 4]) {
//!     let mut config = ServerConfig::new(80);
//!     // Keep only these fields (plus Host, Content-Type, Content-Length): a browser's
//!     // cookies then never have to fit the 1 KiB request buffer.
//!     config.keep_headers = Some(&["Accept", "User-Agent"]);
//!     let server = Server::new(stack, Validator::new(demo_app), config);
//!     server.run(slots).await;
//! }
//! ```
//!
//! `examples/tap.rs` runs this on Linux over a TAP device; `examples/firmware` (its own
//! workspace) on an STM32 Nucleo board; `docs/EMBEDDED.md` has both, and the footprint.
//!
//! ## Features
//!
//! * `log` / `defmt`: logging (an access line per request, application errors,
//!   `wsgi.errors`) through one of them (mutually exclusive); `defmt` also derives
//!   `defmt::Format` on the public types.
//! * `proto-ipv6`: IPv6 as well as IPv4.
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

mod app;
mod fmt;
mod server;
mod stop;

pub use app::{AsyncApplication, AsyncRequest};
pub use server::{Closed, Server, ServerConfig, Slot};
pub use stop::{MAX_WAITING_TASKS, Stop};
