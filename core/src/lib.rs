//! wsgiref for Rust: the sans-IO core. (Crate docs are completed below.)
#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub(crate) mod abnf;
pub mod connection;
mod date;
pub mod environ;
mod error;
pub mod framing;
pub mod handler;
pub mod headers;
mod read;
pub mod state;
mod time;
pub mod util;
mod write;

pub use connection::{Body, Config, Connection, Event, Exchange, Limits, Timeouts};
pub use date::{DATE_LEN, format_date_time};
pub use environ::{Environ, Gateway, Key, Value};
pub use error::{LocalError, RemoteError};
pub use framing::Version;
pub use handler::{OutputMode, Transmit};
pub use time::Instant;
pub use write::reason_phrase;
