//! The real-client suite (`tests/common/clients.rs`) against `wsgiref --engine poll`, the
//! epoll event loop on one thread.

/// The `--engine` every server of the suite runs with.
const ENGINE: &str = "poll";

/// The command every server of the suite is.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_wsgiref");

#[path = "common/clients.rs"]
mod suite;

/// Out of file descriptors: the event loop's listener is edge-triggered, so connections
/// left in the accept queue when `accept` fails with `EMFILE` would wait for the next
/// connection to arrive. The loop retries by itself: once clients leave, every queued
/// connection is served. (The server runs with `ulimit -n 48`.)
#[test]
fn connections_queued_while_out_of_descriptors_are_served_when_some_leave() {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::process::{Command, Stdio};
    use std::thread;
    use std::time::{Duration, Instant};

    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let script = format!(
        "ulimit -n 48 && exec '{SERVER_BIN}' --engine poll --app hello --quiet --bind {addr}"
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        assert!(child.try_wait().unwrap().is_none(), "the server exited");
        thread::sleep(Duration::from_millis(20));
    }
    let child = Kill(child);
    let get = |s: &mut TcpStream| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        while !got.ends_with(b"Hello World") {
            let n = s.read(&mut buf).expect("a response");
            assert!(n > 0, "closed before the response: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
    };
    // More connections than the server has descriptors for: the last ones stay queued.
    let mut clients: Vec<TcpStream> = (0..80)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    // The first 30 are served, then leave: their descriptors free up.
    for c in clients.iter_mut().take(30) {
        get(c);
    }
    clients.drain(..30);
    // Every other one is served, each leaving after its answer, without any new connection
    // arriving to wake the loop: the loop retries accepting by itself.
    let started = Instant::now();
    for mut c in clients.drain(..) {
        get(&mut c);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?} (only idle deadlines freed descriptors?)",
        started.elapsed()
    );
    drop(child);
}
