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

use std::process::Command;

#[test]
fn rfc9112_conformance_probe_passes_on_both_engines() {
    let probe = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/probe.py");
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance.txt");
    let out = Command::new("python3")
        .arg(probe)
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_wsgiref"))
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test runs the probe with `python3`, which must be on PATH (CI installs it): {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL") || l.starts_with("ERROR") || l.starts_with("INVARIANT"))
        .collect();
    assert!(
        out.status.success(),
        "the conformance probe failed ({}):\n{}\n{}\nfull results in {}\n{}",
        out.status,
        failed.join("\n"),
        stdout.lines().last().unwrap_or_default(),
        log.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .find(|l| l.contains("case definitions"))
        .unwrap_or_default();
    assert!(
        summary.contains("PASS="),
        "no summary from the probe:\n{stdout}"
    );
    eprintln!("{summary}");
}
