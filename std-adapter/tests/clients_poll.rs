//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine poll`, the
//! single-threaded mio event loop.

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "poll";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref");

#[path = "common/clients.rs"]
mod suite;
