//! wsgiref for Rust: the sans-IO core. (Crate docs are written with the connection.)
#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub(crate) mod abnf;
mod error;
pub mod headers;

pub use error::{LocalError, RemoteError};
