//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine poll`, the
//! single-threaded mio event loop.

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "poll";

#[path = "common/clients.rs"]
mod suite;
