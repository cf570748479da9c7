//! `simple_server.demo_app` against the machine's CPython: the page must be the bytes
//! `python3` produces for the same environ, at every block size, over CGI and HTTP.

use std::process::Command;

use wsgiref::app::Application;
use wsgiref::demo::{demo_app, demo_app_with, repr};
use wsgiref::handler::{CgiIo, HttpIo, Outcome, ResponseWriter, Transport, TransportError, run};
use wsgiref::{Config, Connection, Environ, Event, Instant, OutputMode, Value};

/// An environ value as Python would hold it.
#[derive(Clone, Debug)]
enum Py {
    Str(Vec<u8>),
    Bool(bool),
    Tuple(u8, u8),
}

impl Py {
    fn of(value: Value<'_>) -> Self {
        match value {
            Value::Str(s) => Self::Str(s.to_vec()),
            Value::Bool(b) => Self::Bool(b),
            Value::Version(a, b) => Self::Tuple(a, b),
            other => panic!("no Python equivalent for {other:?}"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `python3 -c script args…` and returns its stdout; fails the test clearly when
/// python3 is missing or fails.
fn python(script: &str, args: &[String]) -> Vec<u8> {
    let out = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "these tests compare with CPython and need `python3` on PATH (CI installs it): {e}"
        ),
    };
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// CPython's `demo_app` body for an environ of these variables: each argument is
/// `KEYHEX:TYPE:PAYLOAD` (s: latin-1 hex, b: 0/1, v: major.minor).
const PAGE_PY: &str = r#"
import sys
def value(t, p):
    if t == "s":
        return bytes.fromhex(p).decode("latin-1")
    if t == "b":
        return p == "1"
    if t == "v":
        return tuple(int(x) for x in p.split("."))
    raise ValueError(t)
env = {}
for arg in sys.argv[1:]:
    k, t, p = arg.split(":")
    env[bytes.fromhex(k).decode("utf-8")] = value(t, p)
page = "Hello world!\n\n" + "".join(f"{k} = {v!r}\n" for k, v in sorted(env.items()))
sys.stdout.buffer.write(page.encode("utf-8"))
"#;

fn cpython_page(vars: &[(String, Py)]) -> Vec<u8> {
    let args: Vec<String> = vars
        .iter()
        .map(|(k, v)| {
            let (t, p) = match v {
                Py::Str(s) => ("s", hex(s)),
                Py::Bool(b) => ("b", if *b { "1" } else { "0" }.to_string()),
                Py::Tuple(a, b) => ("v", format!("{a}.{b}")),
            };
            format!("{}:{t}:{p}", hex(k.as_bytes()))
        })
        .collect();
    python(PAGE_PY, &args)
}

fn cpython_page_of(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let vars: Vec<(String, Py)> = pairs
        .iter()
        .map(|&(k, v)| (k.to_string(), Py::Str(v.to_vec())))
        .collect();
    cpython_page(&vars)
}

/// CPython's `repr()` of each value decoded as latin-1, one per line (a repr never holds a
/// raw newline).
fn cpython_reprs(values: &[&[u8]]) -> Vec<String> {
    let args: Vec<String> = values.iter().map(|v| hex(v)).collect();
    let out = python(
        r#"
import sys
out = "\n".join(repr(bytes.fromhex(a).decode("latin-1")) for a in sys.argv[1:])
sys.stdout.buffer.write(out.encode("utf-8"))
"#,
        &args,
    );
    let text = String::from_utf8(out).expect("python3 wrote UTF-8");
    if values.is_empty() {
        return Vec::new();
    }
    text.split('\n').map(str::to_string).collect()
}

/// Collects everything sent, and each send's body piece length.
#[derive(Default)]
struct Out {
    bytes: Vec<u8>,
    blocks: Vec<usize>,
}

impl Transport for Out {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, TransportError> {
        Ok(0)
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        for p in pieces {
            self.bytes.extend_from_slice(p);
        }
        if let Some(body) = pieces.get(1) {
            self.blocks.push(body.len());
        }
        Ok(())
    }
}

/// The response `app` gives over CGI for an environ of `pairs`: (head, body, body block
/// sizes, outcome).
fn cgi<A: Application>(app: &A, pairs: &[(&str, &[u8])]) -> (String, Vec<u8>, Vec<usize>, Outcome) {
    let mut arena = [0u8; 256];
    let mut env = Environ::from_pairs(pairs, &mut arena);
    let mut tx = [0u8; 512];
    let mut out = Out::default();
    let mut errors = String::new();
    let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.1");
    let mut io = CgiIo::new(writer, &mut out, 0);
    let outcome = run(app, &mut env, &mut errors, &mut io);
    let (head, body) = split_response(&out.bytes);
    (head, body, out.blocks, outcome)
}

fn split_response(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    (
        String::from_utf8(bytes[..end].to_vec()).expect("ASCII head"),
        bytes[end..].to_vec(),
    )
}

fn cgi_head(length: usize) -> String {
    format!(
        "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// CGI variables with every kind of awkward value.
const TRICKY: &[(&str, &[u8])] = &[
    ("REQUEST_METHOD", b"GET"),
    ("SCRIPT_NAME", b""),
    ("PATH_INFO", b"/caf\xe9/\xff"),
    ("QUERY_STRING", b"a=1&b='2'"),
    ("CONTENT_TYPE", b"text/plain"),
    ("CONTENT_LENGTH", b""),
    ("SERVER_NAME", b"localhost"),
    ("SERVER_PORT", b"8000"),
    ("SERVER_PROTOCOL", b"HTTP/1.1"),
    ("GATEWAY_INTERFACE", b"CGI/1.1"),
    ("REMOTE_ADDR", b"127.0.0.1"),
    ("HTTP_X_SINGLE", b"it's"),
    ("HTTP_X_BOTH", b"it's \"quoted\""),
    ("HTTP_X_DOUBLE", b"say \"hi\""),
    ("HTTP_X_BACKSLASH", b"C:\\dir\\"),
    ("HTTP_X_TAB", b"a\tb"),
    ("HTTP_X_NEWLINE", b"a\nb\r\n"),
    ("HTTP_X_C0", b"\x00\x01\x1b\x1f"),
    ("HTTP_X_DEL", b"\x7f"),
    ("HTTP_X_80", b"\x80"),
    ("HTTP_X_A0", b"\xa0"),
    ("HTTP_X_AD", b"\xad"),
    ("HTTP_X_E9", b"\xe9t\xe9"),
    ("HTTP_X_FF", b"\xff"),
    ("HTTP_X_EMPTY", b""),
    ("HTTP_USER_AGENT", b"Mozilla/5.0 (X11; Linux x86_64)"),
    ("wsgi.url_scheme", b"http"),
    ("Z_LAST_BY_NAME", b"z"),
    ("a_lower", b"lower case sorts after upper case and '_'"),
];

#[test]
fn page_matches_cpython_byte_for_byte() {
    let want = cpython_page_of(TRICKY);
    let (head, body, blocks, outcome) = cgi(&demo_app, TRICKY);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(body, want);
    assert_eq!(head, cgi_head(want.len()));
    assert_eq!(outcome.body_sent, want.len() as u64);
    assert!(blocks.iter().all(|&n| n <= 256), "{blocks:?}");
    assert!(blocks.len() > 1, "a page this long takes several blocks");
}

/// The page is the same however small the buffer: lines longer than it continue in the
/// next block, and no block is empty or over-long.
#[test]
fn page_is_the_same_at_every_block_size() {
    let long = [b'x'; 700];
    let mut pairs = TRICKY.to_vec();
    pairs.push(("HTTP_X_LONG", &long));
    let want = cpython_page_of(&pairs);
    macro_rules! check {
        ($($n:literal)*) => {$({
            let (head, body, blocks, outcome) = cgi(&demo_app_with::<$n>, &pairs);
            assert_eq!(outcome.error, None, "N = {}", $n);
            assert_eq!(body, want, "N = {}", $n);
            assert_eq!(head, cgi_head(want.len()), "N = {}", $n);
            assert!(blocks.iter().all(|&b| (1..=$n).contains(&b)), "N = {}: {blocks:?}", $n);
            // Every block but the last is full.
            let (last, full) = blocks.split_last().expect("blocks");
            assert!(full.iter().all(|&b| b == $n), "N = {}", $n);
            assert!(*last >= 1);
            assert_eq!(blocks.len(), want.len().div_ceil($n), "N = {}", $n);
        })*};
    }
    check!(1 2 3 7 13 14 15 16 31 64 100 256 701 4096);
}

#[test]
fn repr_of_every_latin1_character_matches_cpython() {
    let chars: Vec<[u8; 1]> = (0..=255u8).map(|b| [b]).collect();
    let all: Vec<u8> = (0..=255u8).collect();
    let mut values: Vec<&[u8]> = chars.iter().map(|c| &c[..]).collect();
    values.push(&all);
    let want = cpython_reprs(&values);
    assert_eq!(want.len(), 257);
    for (value, want) in values.iter().zip(&want) {
        assert_eq!(&repr(Value::Str(value)).to_string(), want, "{value:x?}");
    }
}

#[test]
fn repr_table_matches_cpython_and_python_rules() {
    let table: &[(&[u8], &str)] = &[
        (b"", "''"),
        (b"abc", "'abc'"),
        (b"'", "\"'\""),
        (b"\"", "'\"'"),
        (b"it's", "\"it's\""),
        (b"'\"", r#"'\'"'"#),
        (b"it's \"x\"", r#"'it\'s "x"'"#),
        (b"\\", r"'\\'"),
        (b"'\\", r#""'\\""#),
        (b"\t\n\r", r"'\t\n\r'"),
        (b"\x0b\x0c", r"'\x0b\x0c'"),
        (b"\x7f\x80\x9f\xa0", r"'\x7f\x80\x9f\xa0'"),
        (b"\xa1\xac\xad\xae", "'¡¬\\xad®'"),
        (b"\xe9\xff", "'éÿ'"),
    ];
    let values: Vec<&[u8]> = table.iter().map(|(v, _)| *v).collect();
    let python = cpython_reprs(&values);
    for ((value, want), python) in table.iter().zip(&python) {
        assert_eq!(repr(Value::Str(value)).to_string(), *want, "{value:x?}");
        assert_eq!(want, python, "{value:x?}");
    }
}

#[test]
fn bool_and_version_reprs() {
    assert_eq!(repr(Value::Bool(true)).to_string(), "True");
    assert_eq!(repr(Value::Bool(false)).to_string(), "False");
    assert_eq!(repr(Value::Version(1, 0)).to_string(), "(1, 0)");
    assert_eq!(repr(Value::Version(10, 255)).to_string(), "(10, 255)");
}

/// A real request through a connection: the environ holds flags and the version; the page
/// is CPython's for the same variables, with CPython's head order.
#[test]
fn page_of_an_http_request_matches_cpython() {
    let mut config = Config::DEFAULT;
    config.gateway.multithread = true;
    config.gateway.server_software = "WSGIServer/0.2";
    let (mut rx, mut tx) = ([0u8; 2048], [0u8; 1024]);
    let mut conn: Connection<'_> = Connection::new(&config, &mut rx, &mut tx);
    conn.set_remote("127.0.0.1:54321".parse().expect("address"));
    let request: &[u8] = b"GET /xyz?abc HTTP/1.1\r\nHost: example.com\r\n\
        User-Agent: t\xe9st\r\nX-Quote: it's\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    conn.receive_buf()[..request.len()].copy_from_slice(request);
    conn.handle_received(request.len());
    assert_eq!(conn.poll_event(Instant::from_millis(0)), Event::Request);
    let mut arena = [0u8; 256];
    let (mut env, mut ex) = conn.exchange(&mut arena).expect("exchange");
    env.set("A_MIDDLEWARE", b"added").expect("arena");
    env.set_value("wsgi.run_once", Value::Bool(true))
        .expect("arena");
    let vars: Vec<(String, Py)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), Py::of(v)))
        .collect();
    let want = cpython_page(&vars);

    let mut out = Out::default();
    let mut errors = String::new();
    let mut io = HttpIo::new(&mut ex, &mut out);
    let outcome = run(&demo_app, &mut env, &mut errors, &mut io);
    assert_eq!(outcome.error, None);
    let (head, body) = split_response(&out.bytes);
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(body, want);

    let text = String::from_utf8(body).expect("UTF-8 page");
    for line in [
        "A_MIDDLEWARE = 'added'\n",
        "HTTP_USER_AGENT = 'tést'\n",
        "HTTP_X_QUOTE = \"it's\"\n",
        "PATH_INFO = '/xyz'\n",
        "QUERY_STRING = 'abc'\n",
        "REMOTE_ADDR = '127.0.0.1'\n",
        "wsgi.multiprocess = False\n",
        "wsgi.multithread = True\n",
        "wsgi.run_once = True\n",
        "wsgi.version = (1, 0)\n",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    let keys: Vec<&str> = text
        .lines()
        .skip(2)
        .map(|l| l.split(" = ").next().expect("key"))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    assert_eq!(keys.last(), Some(&"wsgi.version"));

    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let ct = head
        .find("Content-Type: text/plain; charset=utf-8\r\n")
        .expect("type");
    let cl = head
        .find(&format!("Content-Length: {}\r\n", want.len()))
        .expect("length");
    assert!(ct < cl, "Content-Type comes before Content-Length: {head}");
}

#[test]
fn an_empty_environ_is_just_hello() {
    let (head, body, _, outcome) = cgi(&demo_app_with::<4>, &[]);
    assert_eq!(outcome.error, None);
    assert_eq!(body, b"Hello world!\n\n");
    assert_eq!(body, cpython_page_of(&[]));
    assert_eq!(head, cgi_head(14));
}

/// Duplicate keys (possible only with `from_pairs`) are shown once, with the value
/// `Environ::get` sees.
#[test]
fn duplicate_keys_are_shown_once() {
    let pairs: &[(&str, &[u8])] = &[("B", b"1"), ("A", b"first"), ("A", b"second"), ("C", b"")];
    let (head, body, _, outcome) = cgi(&demo_app_with::<5>, pairs);
    assert_eq!(outcome.error, None);
    let want = "Hello world!\n\nA = 'first'\nB = '1'\nC = ''\n";
    assert_eq!(String::from_utf8(body).expect("UTF-8"), want);
    assert_eq!(head, cgi_head(want.len()));
}

/// A zero-byte buffer cannot make progress: the application fails before the head is sent,
/// so the client gets the error output.
#[test]
fn a_zero_byte_buffer_is_an_error() {
    let (head, body, _, outcome) = cgi(&demo_app_with::<0>, &[("A", b"b")]);
    assert!(outcome.error.is_some());
    assert_eq!(outcome.status, 500);
    assert!(head.starts_with("Status: 500 "), "{head}");
    assert_eq!(body, wsgiref::handler::ERROR_BODY);
}
