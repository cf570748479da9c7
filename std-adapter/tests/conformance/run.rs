//! Runs the conformance probe (`probe.py` beside this file) with the machine's `python3` and
//! fails the calling test on any FAIL, ERROR or invariant violation. Shared by
//! `std-adapter/tests/conformance.rs` and `tokio-adapter/tests/conformance.rs`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Runs `probe` (the path of `probe.py`) with `args` (`--bin PATH` or `--ports …`), its full
/// results written to `log`; panics with the failed cases if it does not pass.
pub(crate) fn run_probe(probe: &Path, args: &[&OsStr], log: &Path) {
    let out = Command::new("python3")
        .arg(probe)
        .args(args)
        .arg("--log")
        .arg(log)
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
        "the conformance probe failed ({}):\n{}\nfull results in {}\n{}",
        out.status,
        failed.join("\n"),
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
