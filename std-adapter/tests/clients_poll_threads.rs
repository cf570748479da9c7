//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine poll
//! --threads 2`: the epoll event loop with two threads sharing its epoll set.

/// The `--engine` every server of the suite runs with, and the thread count.
const ENGINE: &str = "poll --threads 2";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref");

#[path = "common/clients.rs"]
mod suite;
