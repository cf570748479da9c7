//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine threads`,
//! the thread-pool server of `simple_server`.

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "threads";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref");

#[path = "common/clients.rs"]
mod suite;
