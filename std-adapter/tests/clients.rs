//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine threads`,
//! the thread-pool server of `simple_server`.

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "threads";

#[path = "common/clients.rs"]
mod suite;
