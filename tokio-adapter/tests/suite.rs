//! The std server's real-client suite (`std-adapter/tests/common/clients.rs`: curl,
//! Python's `http.client`, raw pipelined and malformed bytes, request smuggling, nginx as a
//! keep-alive reverse proxy) against the `wsgiref-tokio` command, applications under
//! `block_in_place` (`--engine block-in-place`, the default execution).

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "block-in-place";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref-tokio");

#[path = "../../std-adapter/tests/common/clients.rs"]
mod suite;
