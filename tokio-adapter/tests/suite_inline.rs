//! The std server's real-client suite (`std-adapter/tests/common/clients.rs`) against the
//! `wsgiref-tokio` command with `--engine inline` (`Execution::Inline`: the applications on
//! the runtime's workers, their socket waits through `block_in_place`).

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "inline";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref-tokio");

#[path = "../../std-adapter/tests/common/clients.rs"]
mod suite;
