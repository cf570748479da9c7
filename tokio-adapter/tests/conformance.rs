//! The std adapter's HTTP/1.1 conformance probe (`std-adapter/tests/conformance/probe.py`,
//! 211 cases from RFC 9112 and RFC 9110 over raw sockets) against the `wsgiref-tokio`
//! command: `--app echo` and `--app demo`, each under both executions (`block-in-place`, in
//! the probe's "poll" column, and `inline`, in its "threads" column). Any case that breaks a
//! requirement, or any response that breaks an invariant, fails the test.

#[path = "../../std-adapter/tests/conformance/run.rs"]
mod run;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
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
    let ports = ports.join(",");
    run::run_probe(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../std-adapter/tests/conformance/probe.py"
        )),
        &[OsStr::new("--ports"), OsStr::new(&ports)],
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-tokio.txt"),
    );
    drop(servers);
}
