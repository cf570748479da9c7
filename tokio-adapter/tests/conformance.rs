//! The std adapter's HTTP/1.1 conformance probe (`std-adapter/tests/conformance/probe.py`,
//! 211 cases from RFC 9112 and RFC 9110 over raw sockets) against the `wsgiref-tokio`
//! command: `--app echo` and `--app demo`, each under both executions (`block-in-place`, in
//! the probe's "poll" column, and `inline`, in its "threads" column). Any case that breaks a
//! requirement, or any response that breaks an invariant, fails the test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `wsgiref-tokio` process on a free loopback port, killed (by its own id) on drop.
struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn start(app: &str, engine: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsgiref-tokio"))
            .args([
                "--app",
                app,
                "--engine",
                engine,
                "--bind",
                "127.0.0.1:0",
                "--quiet",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wsgiref-tokio");
        // "Serving echo on http://127.0.0.1:PORT/"
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the serving line");
        let port = line
            .trim_end()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Self { child, port }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rfc9112_conformance_probe_passes_under_both_executions() {
    let servers = [
        Served::start("echo", "block-in-place"),
        Served::start("echo", "inline"),
        Served::start("demo", "block-in-place"),
        Served::start("demo", "inline"),
    ];
    let ports: Vec<String> = servers.iter().map(|s| s.port.to_string()).collect();
    let probe = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../std-adapter/tests/conformance/probe.py"
    );
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-tokio.txt");
    let out = Command::new("python3")
        .arg(probe)
        .arg("--ports")
        .arg(ports.join(","))
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test runs the probe with `python3`, which must be on PATH (CI installs it): {e}")
        });
    drop(servers);
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
