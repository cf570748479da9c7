//! The HTTP/1.1 conformance probe (`tests/conformance/probe.py`): 211 cases written from the
//! text of RFC 9112 and RFC 9110 (smuggling, framing, chunked bodies, request-line and Host
//! rules, keep-alive and pipelining, `100-continue`, HEAD, limits, slow clients, the environ),
//! sent over raw sockets by the machine's `python3` to the `wsgiref` command on both engines
//! (`--app echo` and `--app demo`). Any case that breaks a requirement fails the test, as does
//! any response that breaks one of the invariants checked on every response (a `Date`, never
//! Content-Length with Transfer-Encoding, no chunked response to HTTP/1.0). The probe re-runs
//! a failed case once before reporting it, so a failure is not a timing artefact.
//!
//! It takes about 35 s, most of it in the cases about deadlines (idle keep-alive 5 s, first
//! byte and head 10 s), which run in parallel.

#[path = "conformance/run.rs"]
mod run;

use std::ffi::OsStr;
use std::path::Path;

#[test]
fn rfc9112_conformance_probe_passes_on_both_engines() {
    run::run_probe(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance/probe.py"
        )),
        &[
            OsStr::new("--bin"),
            OsStr::new(env!("CARGO_BIN_EXE_wsgiref")),
        ],
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance.txt"),
    );
}
