//! `wsgiref.validate`: tables of deliberately bad applications and environs, each served
//! through `handler::run` (CGI output unless said otherwise) over an in-memory transport.
//!
//! Every table says which CPython test or which vector of
//! `shared/reference/wsgiref-behaviour.md` (§5.2-§5.8, §7.1) it ports. A row's expected log
//! is exact: the validator's lines (`WSGIWarning: …`, `wsgiref.validate: <CPython's
//! complete message>`), then what the server logs after the run (the error's last traceback
//! line, `Kind: message`, then the access log line), as `BaseHandler.log_exception` and
//! `log_request` would.

use std::fmt::Write as _;
use std::string::String;
use std::vec::Vec;

use wsgiref::app::{
    AppError, Application, Body, Bytes, Empty, Input, InputError, Request, ResponseHeaders,
    ResponseStart, SliceInput, StartResponse,
};
use wsgiref::handler::{
    self, CgiIo, ERROR_BODY, Outcome, OutputMode, ResponseWriter, Transport, TransportError,
};
use wsgiref::validate::{Validator, validator};
use wsgiref::{Environ, Value};

/// The transport: the request body to read, and everything sent.
struct Mem {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
}

impl Transport for Mem {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        let rest = &self.input[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        for piece in pieces {
            self.output.extend_from_slice(piece);
        }
        Ok(())
    }
}

/// What one request produced.
#[derive(Debug)]
struct Run {
    output: Vec<u8>,
    /// `wsgi.errors`, then what the server logged after the run.
    log: String,
    outcome: Outcome,
}

/// The environ of the §5.8 vectors: `setup_testing_defaults({})` plus `QUERY_STRING=''`
/// (the typed `wsgi.*` values are set in [`serve`]).
const BASE: &[(&str, &[u8])] = &[
    ("SERVER_NAME", b"127.0.0.1"),
    ("SERVER_PROTOCOL", b"HTTP/1.0"),
    ("HTTP_HOST", b"127.0.0.1"),
    ("REQUEST_METHOD", b"GET"),
    ("SCRIPT_NAME", b""),
    ("PATH_INFO", b"/"),
    ("wsgi.url_scheme", b"http"),
    ("SERVER_PORT", b"80"),
    ("QUERY_STRING", b""),
];

/// A change to the base environ.
#[derive(Clone, Copy, Debug)]
enum Edit {
    Set(&'static str, Value<'static>),
    Remove(&'static str),
}
use Edit::{Remove, Set};

const fn s(v: &'static [u8]) -> Value<'static> {
    Value::Str(v)
}

/// The server software of CPython's `run_amock` (`WSGIServer/0.2 ` + pyver).
const SOFTWARE: &str = "WSGIServer/0.2 CPython/3.11.7";

/// Serves one `GET / HTTP/1.0` with `app`: CGI output, or origin output as CPython's
/// `run_amock` (`HTTP/1.0` status line, its server software, no clock).
fn serve<A: Application + ?Sized>(app: &A, edits: &[Edit], mode: OutputMode, body: &[u8]) -> Run {
    let mut arena = [0u8; 512];
    let mut environ = Environ::from_pairs(BASE, &mut arena);
    environ
        .set_value("wsgi.version", Value::Version(1, 0))
        .unwrap();
    for flag in ["wsgi.run_once", "wsgi.multithread", "wsgi.multiprocess"] {
        environ.set_value(flag, Value::Bool(false)).unwrap();
    }
    for edit in edits {
        match *edit {
            Set(key, value) => environ.set_value(key, value).unwrap(),
            Remove(key) => environ.remove(key).unwrap(),
        }
    }
    let mut tx = [0u8; 1024];
    let mut writer = ResponseWriter::new(&mut tx, mode, b"GET", b"HTTP/1.0");
    if mode == OutputMode::Origin {
        writer.set_http10();
        writer.set_server_software(SOFTWARE);
    }
    let mut transport = Mem {
        input: body.to_vec(),
        pos: 0,
        output: Vec::new(),
    };
    let mut log = String::new();
    let outcome = {
        let mut io = CgiIo::new(writer, &mut transport, body.len() as u64);
        handler::run(app, &mut environ, &mut log, &mut io)
    };
    if let Some(e) = outcome.error {
        writeln!(log, "{e}").unwrap();
    }
    writeln!(
        log,
        "\"GET / HTTP/1.0\" {} {}",
        outcome.status, outcome.body_sent
    )
    .unwrap();
    Run {
        output: transport.output,
        log,
        outcome,
    }
}

fn text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The CGI error output.
fn error_output() -> Vec<u8> {
    let mut out = b"Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\
                    Content-Length: 59\r\n\r\n"
        .to_vec();
    out.extend_from_slice(ERROR_BODY);
    out
}

/// Checks a run: `lines` are the validator's lines, `error` the logged error (a 500 with
/// the error output) or `None` (a 200 with `body`).
fn check(row: &str, run: &Run, lines: &[&str], error: Option<&str>, body: &[u8]) {
    let mut want = String::new();
    for line in lines {
        want.push_str(line);
        want.push('\n');
    }
    match error {
        Some(e) => {
            want.push_str(e);
            want.push('\n');
            want.push_str("\"GET / HTTP/1.0\" 500 59\n");
            assert_eq!(text(&run.output), text(&error_output()), "{row}");
        }
        None => {
            writeln!(want, "\"GET / HTTP/1.0\" 200 {}", body.len()).unwrap();
            assert!(run.output.starts_with(b"Status: 200 "), "{row}: {run:?}");
            assert!(run.output.ends_with(body), "{row}: {run:?}");
            assert!(run.outcome.error.is_none(), "{row}");
        }
    }
    assert_eq!(run.log, want, "{row}");
}

/// CPython's `hello_app`.
fn hello_app(
    _: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start(
        "200 OK",
        &[
            ("Content-Type", "text/plain"),
            ("Date", "Mon, 05 Jun 2006 18:49:54 GMT"),
        ],
    )?;
    Ok(Bytes::new(b"Hello, world!"))
}

/// An application that calls `start_response(status, headers)` and returns `b"ok"`.
struct Start {
    status: &'static str,
    headers: &'static [(&'static str, &'static [u8])],
}

impl Application for Start {
    type Body = Bytes<&'static [u8]>;

    fn call(
        &self,
        _: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Self::Body, AppError> {
        start_response.start_bytes(self.status, self.headers)?;
        Ok(Bytes::new(b"ok"))
    }
}

const CT: (&str, &[u8]) = ("Content-Type", b"text/plain");

const NO_QUERY_STRING: &str = "WSGIWarning: QUERY_STRING is not in the WSGI environment; the cgi \
                               module will use sys.argv when this variable is missing, so \
                               application errors are more likely";

/// §5.2 `check_environ` in order, and the environ rows of the §5.8 vectors (CPython has no
/// test of its own for these; `test_validated_hello` is the passing row). Each row: the
/// change to the base environ, the validator's lines, the logged error.
#[test]
#[rustfmt::skip]
fn check_environ_vectors() {
    let table: &[(&str, &[Edit], &[&str], Option<&str>)] = &[
        ("§5.8 base environ", &[], &[], None),
        // #2, in CPython's order (wsgi.input and wsgi.errors are Request fields here).
        ("#2 REQUEST_METHOD", &[Remove("REQUEST_METHOD")], &[], Some("AssertionError: Environment missing required key: 'REQUEST_METHOD'")),
        ("#2 SERVER_NAME", &[Remove("SERVER_NAME")], &[], Some("AssertionError: Environment missing required key: 'SERVER_NAME'")),
        ("#2 SERVER_PORT", &[Remove("SERVER_PORT")], &[], Some("AssertionError: Environment missing required key: 'SERVER_PORT'")),
        ("#2 wsgi.version", &[Remove("wsgi.version")], &[], Some("AssertionError: Environment missing required key: 'wsgi.version'")),
        ("#2 wsgi.multithread", &[Remove("wsgi.multithread")], &[], Some("AssertionError: Environment missing required key: 'wsgi.multithread'")),
        ("#2 wsgi.multiprocess", &[Remove("wsgi.multiprocess")], &[], Some("AssertionError: Environment missing required key: 'wsgi.multiprocess'")),
        ("#2 wsgi.run_once", &[Remove("wsgi.run_once")], &[], Some("AssertionError: Environment missing required key: 'wsgi.run_once'")),
        ("#2 the first missing key is reported", &[Remove("wsgi.run_once"), Remove("SERVER_PORT")], &[], Some("AssertionError: Environment missing required key: 'SERVER_PORT'")),
        // #3
        ("#3 HTTP_CONTENT_TYPE", &[Set("HTTP_CONTENT_TYPE", s(b"text/plain"))], &[], Some("AssertionError: Environment should not have the key: HTTP_CONTENT_TYPE (use CONTENT_TYPE instead)")),
        ("#3 HTTP_CONTENT_LENGTH", &[Set("HTTP_CONTENT_LENGTH", s(b"0"))], &[], Some("AssertionError: Environment should not have the key: HTTP_CONTENT_LENGTH (use CONTENT_LENGTH instead)")),
        // #4: a warning only
        ("#4 no QUERY_STRING", &[Remove("QUERY_STRING")], &[NO_QUERY_STRING], None),
        // #5: keys without a dot have string values; dotted keys are not checked
        ("#5 FOO=True", &[Set("FOO", Value::Bool(true))], &["wsgiref.validate: Environmental variable FOO is not a string: <class 'bool'> (value: True)"], Some("AssertionError: Environmental variable is not a string")),
        ("#5 SERVER_PORT=(8, 0)", &[Set("SERVER_PORT", Value::Version(8, 0))], &["wsgiref.validate: Environmental variable SERVER_PORT is not a string: <class 'tuple'> (value: (8, 0))"], Some("AssertionError: Environmental variable is not a string")),
        ("#5 §5.8 {'x.y': 1} is fine", &[Set("x.y", Value::Bool(true))], &[], None),
        // #6
        ("#6 wsgi.version='1.0'", &[Set("wsgi.version", s(b"1.0"))], &["wsgiref.validate: wsgi.version should be a tuple ('1.0')"], Some("AssertionError: wsgi.version should be a tuple")),
        ("#6 wsgi.version=False", &[Set("wsgi.version", Value::Bool(false))], &["wsgiref.validate: wsgi.version should be a tuple (False)"], Some("AssertionError: wsgi.version should be a tuple")),
        // #7; a missing key is a KeyError in CPython (§8.6)
        ("#7 ftp", &[Set("wsgi.url_scheme", s(b"ftp"))], &["wsgiref.validate: wsgi.url_scheme unknown: 'ftp'"], Some("AssertionError: wsgi.url_scheme unknown")),
        ("#7 HTTP (case-sensitive)", &[Set("wsgi.url_scheme", s(b"HTTP"))], &["wsgiref.validate: wsgi.url_scheme unknown: 'HTTP'"], Some("AssertionError: wsgi.url_scheme unknown")),
        ("#7 https", &[Set("wsgi.url_scheme", s(b"https"))], &[], None),
        ("#7 missing (KeyError in CPython)", &[Remove("wsgi.url_scheme")], &[], Some("AssertionError: Environment missing required key: 'wsgi.url_scheme'")),
        // #10: a warning only
        ("#10 §5.8 FOO", &[Set("REQUEST_METHOD", s(b"FOO"))], &["WSGIWarning: Unknown REQUEST_METHOD: 'FOO'"], None),
        ("#10 §5.8 get", &[Set("REQUEST_METHOD", s(b"get"))], &["WSGIWarning: Unknown REQUEST_METHOD: 'get'"], None),
        ("#10 CONNECT", &[Set("REQUEST_METHOD", s(b"CONNECT"))], &["WSGIWarning: Unknown REQUEST_METHOD: 'CONNECT'"], None),
        ("#10 PATCH", &[Set("REQUEST_METHOD", s(b"PATCH"))], &[], None),
        ("#4, #10 both warnings, in order", &[Remove("QUERY_STRING"), Set("REQUEST_METHOD", s(b"FOO"))], &[NO_QUERY_STRING, "WSGIWarning: Unknown REQUEST_METHOD: 'FOO'"], None),
        // #11, #12; missing counts as empty (KeyError in CPython, §8.6)
        ("#11 §5.8 SCRIPT_NAME='x'", &[Set("SCRIPT_NAME", s(b"x"))], &["wsgiref.validate: SCRIPT_NAME doesn't start with /: 'x'"], Some("AssertionError: SCRIPT_NAME doesn't start with /")),
        ("#10, #11 the warning comes first", &[Set("REQUEST_METHOD", s(b"FOO")), Set("SCRIPT_NAME", s(b"x"))], &["WSGIWarning: Unknown REQUEST_METHOD: 'FOO'", "wsgiref.validate: SCRIPT_NAME doesn't start with /: 'x'"], Some("AssertionError: SCRIPT_NAME doesn't start with /")),
        ("#11 repr quotes", &[Set("SCRIPT_NAME", s(b"it's"))], &["wsgiref.validate: SCRIPT_NAME doesn't start with /: \"it's\""], Some("AssertionError: SCRIPT_NAME doesn't start with /")),
        ("#11 missing SCRIPT_NAME (KeyError in CPython)", &[Remove("SCRIPT_NAME")], &[], None),
        ("#12 PATH_INFO='x'", &[Set("PATH_INFO", s(b"x"))], &["wsgiref.validate: PATH_INFO doesn't start with /: 'x'"], Some("AssertionError: PATH_INFO doesn't start with /")),
        ("#12 repr of latin-1", &[Set("PATH_INFO", s(b"caf\xe9\x80\t"))], &["wsgiref.validate: PATH_INFO doesn't start with /: 'caf\u{e9}\\x80\\t'"], Some("AssertionError: PATH_INFO doesn't start with /")),
        ("#12 §5.2 PATH_INFO='' with SCRIPT_NAME=''", &[Set("PATH_INFO", s(b""))], &[], None),
        // #13 with Python's int(); not an integer is a ValueError in CPython
        ("#13 §5.8 '-1'", &[Set("CONTENT_LENGTH", s(b"-1"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '-1'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 §5.8 'abc' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"abc"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: 'abc'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '0x10' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"0x10"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '0x10'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '1__0' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"1__0"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '1__0'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '_1' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"_1"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '_1'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '1 2' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"1 2"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '1 2'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 ' ' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b" "))], &["wsgiref.validate: Invalid CONTENT_LENGTH: ' '"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '' is not checked", &[Set("CONTENT_LENGTH", s(b""))], &[], None),
        ("#13 int() accepts ' 0 '", &[Set("CONTENT_LENGTH", s(b" 0 "))], &[], None),
        // int() strips ASCII's six spaces and, above U+007F, every isspace() character,
        // but not the separators U+001C to U+001F that isspace() also counts.
        ("#13 '\\x1c5' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"\x1c5"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '\\x1c5'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 '5\\x1f' (ValueError in CPython)", &[Set("CONTENT_LENGTH", s(b"5\x1f"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '5\\x1f'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        ("#13 int() accepts '\\x0b5\\x0c'", &[Set("CONTENT_LENGTH", s(b"\x0b5\x0c"))], &[], None),
        ("#13 int() accepts '\\xa05' and '\\x855'", &[Set("CONTENT_LENGTH", s(b"\xa05\x85"))], &[], None),
        ("#13 int() accepts '+0'", &[Set("CONTENT_LENGTH", s(b"+0"))], &[], None),
        ("#13 int() accepts '-0'", &[Set("CONTENT_LENGTH", s(b"-0"))], &[], None),
        ("#13 int() accepts '0_0'", &[Set("CONTENT_LENGTH", s(b"0_0"))], &[], None),
        ("#13 '\\xa00\\x1c' (ValueError in CPython: U+001C is not int()'s space)", &[Set("CONTENT_LENGTH", s(b"\xa00\x1c"))], &["wsgiref.validate: Invalid CONTENT_LENGTH: '\\xa00\\x1c'"], Some("AssertionError: Invalid CONTENT_LENGTH")),
        // #14, reachable here (CPython's #12 raises KeyError first)
        ("#14 no PATH_INFO, SCRIPT_NAME=''", &[Remove("PATH_INFO")], &[], Some("AssertionError: One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least be '/' if SCRIPT_NAME is empty)")),
        ("#14 neither", &[Remove("PATH_INFO"), Remove("SCRIPT_NAME")], &[], Some("AssertionError: One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least be '/' if SCRIPT_NAME is empty)")),
        ("#14 no PATH_INFO, SCRIPT_NAME='/app'", &[Remove("PATH_INFO"), Set("SCRIPT_NAME", s(b"/app"))], &[], None),
        // #15
        ("#15 §5.8 SCRIPT_NAME='/'", &[Set("SCRIPT_NAME", s(b"/"))], &[], Some("AssertionError: SCRIPT_NAME cannot be '/'; it should instead be '', and PATH_INFO should be '/'")),
    ];
    let app = Validator::new(hello_app);
    for &(row, edits, lines, error) in table {
        let run = serve(&app, edits, OutputMode::Cgi, b"");
        check(row, &run, lines, error, b"Hello, world!");
    }
}

/// §5.3 `check_status` and the status rows of §5.8; CPython's
/// `test_status_validation_errors` statuses through the validator (the rows marked
/// "handler" pass the validator with a warning, and the handler refuses them).
#[test]
#[rustfmt::skip]
fn check_status_vectors() {
    const HANDLER: &str = "AssertionError: Status must be 3 digits, a space and a reason phrase";
    const WARN: &str = "should be a three-digit integer followed by a single space and a status explanation";
    let table: &[(&str, &str, &[&str], Option<&str>)] = &[
        ("§5.8 ok", "200 OK", &[], None),
        ("§5.3 '200  OK' does not warn", "200  OK", &[], None),
        ("§5.8 '20 OK'", "20 OK", &["wsgiref.validate: Status codes must be three characters: '20'"], Some("AssertionError: Status codes must be three characters")),
        ("§5.3 '2000 OK'", "2000 OK", &["wsgiref.validate: Status codes must be three characters: '2000'"], Some("AssertionError: Status codes must be three characters")),
        ("test_status_validation_errors '200OK'", "200OK", &["wsgiref.validate: Status codes must be three characters: '200OK'"], Some("AssertionError: Status codes must be three characters")),
        ("§5.8 '' (IndexError in CPython)", "", &["wsgiref.validate: Status codes must be three characters: ''"], Some("AssertionError: Status codes must be three characters")),
        ("§5.3 blank (IndexError in CPython)", " \t ", &["wsgiref.validate: Status codes must be three characters: ''"], Some("AssertionError: Status codes must be three characters")),
        ("§5.8 '099 X'", "099 X", &["wsgiref.validate: Status code is invalid: 99"], Some("AssertionError: Status code is invalid")),
        ("§5.3 '+12 X' (int() takes the sign)", "+12 X", &["wsgiref.validate: Status code is invalid: 12"], Some("AssertionError: Status code is invalid")),
        ("test_status_validation_errors '20X OK' (ValueError in CPython)", "20X OK", &["wsgiref.validate: Status code is invalid: '20X'"], Some("AssertionError: Status code is invalid")),
        ("test_status_validation_errors '200' (handler)", "200", &["WSGIWarning: The status string ('200') should be a three-digit integer followed by a single space and a status explanation"], Some(HANDLER)),
        ("§5.3 '200\\tOK' (handler)", "200\tOK", &["WSGIWarning: The status string ('200\\tOK') should be a three-digit integer followed by a single space and a status explanation"], Some(HANDLER)),
        ("§5.3 '  200 OK' (handler)", "  200 OK", &["WSGIWarning: The status string ('  200 OK') should be a three-digit integer followed by a single space and a status explanation"], Some(HANDLER)),
    ];
    for &(row, status, lines, error) in table {
        let run = serve(&Validator::new(Start { status, headers: &[CT] }), &[], OutputMode::Cgi, b"");
        check(row, &run, lines, error, b"ok");
        if let Some(warning) = lines.first().filter(|l| l.starts_with("WSGIWarning")) {
            assert!(warning.ends_with(WARN), "{row}");
        }
    }
}

/// §5.4 `check_headers` and the header rows of §5.8 (each after a valid Content-Type).
/// The list/tuple/3-tuple/`str` rows of §5.8 are types here. Rows marked "handler" pass
/// the validator and are refused by the gateway itself.
#[test]
#[rustfmt::skip]
fn check_headers_vectors() {
    const STATUS: &str = "The Status header cannot be used; it conflicts with CGI script, and HTTP status is not given through headers";
    let table: &[(&str, (&str, &[u8]), &[&str], Option<&str>)] = &[
        ("§5.8 ('status', '200')", ("status", b"200"), &["wsgiref.validate: The Status header cannot be used; it conflicts with CGI script, and HTTP status is not given through headers (value: '200')."], Some(STATUS)),
        ("§5.4 ('STATUS', '200 OK')", ("STATUS", b"200 OK"), &["wsgiref.validate: The Status header cannot be used; it conflicts with CGI script, and HTTP status is not given through headers (value: '200 OK')."], Some(STATUS)),
        ("§5.8 'X:Y'", ("X:Y", b"v"), &["wsgiref.validate: Header names may not contain ':' or '\\n': 'X:Y'"], Some("AssertionError: Header names may not contain ':' or '\\n'")),
        ("§5.4 'X\\nY'", ("X\nY", b"v"), &["wsgiref.validate: Header names may not contain ':' or '\\n': 'X\\nY'"], Some("AssertionError: Header names may not contain ':' or '\\n'")),
        ("§5.8 'X Y'", ("X Y", b"v"), &["wsgiref.validate: Bad header name: 'X Y'"], Some("AssertionError: Bad header name")),
        ("§5.8 '1X'", ("1X", b"v"), &["wsgiref.validate: Bad header name: '1X'"], Some("AssertionError: Bad header name")),
        ("§5.4 ''", ("", b"v"), &["wsgiref.validate: Bad header name: ''"], Some("AssertionError: Bad header name")),
        ("§5.4 'X.Y'", ("X.Y", b"v"), &["wsgiref.validate: Bad header name: 'X.Y'"], Some("AssertionError: Bad header name")),
        ("§5.4 non-ASCII", ("Caf\u{e9}", b"v"), &["wsgiref.validate: Bad header name: 'Caf\u{e9}'"], Some("AssertionError: Bad header name")),
        ("§5.4 a control character in the name", ("X\u{7f}", b"v"), &["wsgiref.validate: Bad header name: 'X\\x7f'"], Some("AssertionError: Bad header name")),
        ("§5.8 'X-'", ("X-", b"v"), &["wsgiref.validate: Names may not end in '-' or '_': 'X-'"], Some("AssertionError: Names may not end in '-' or '_'")),
        ("§5.4 'X_'", ("X_", b"v"), &["wsgiref.validate: Names may not end in '-' or '_': 'X_'"], Some("AssertionError: Names may not end in '-' or '_'")),
        ("§5.8 'a\\tb'", ("X", b"a\tb"), &["wsgiref.validate: Bad header value: 'a\\tb' (bad char: '\\t')"], Some("AssertionError: Bad header value")),
        ("§5.4 'a\\rb'", ("X", b"a\rb"), &["wsgiref.validate: Bad header value: 'a\\rb' (bad char: '\\r')"], Some("AssertionError: Bad header value")),
        ("§5.4 the first bad char", ("X", b"a\x00\nb"), &["wsgiref.validate: Bad header value: 'a\\x00\\nb' (bad char: '\\x00')"], Some("AssertionError: Bad header value")),
        ("§5.8 'X_Y' is fine", ("X_Y", b"v"), &[], None),
        ("§5.8 'caf\\xe9' is fine", ("X", b"caf\xe9"), &[], None),
        ("§5.8 'a\\x7fb' (handler: RFC 9110 field-value)", ("X", b"a\x7fb"), &[], Some("AssertionError: Control characters not allowed in headers")),
        ("§5.4 hop-by-hop (handler, as CPython's)", ("Connection", b"close"), &[], Some("AssertionError: Hop-by-hop headers not allowed")),
    ];
    for &(row, header, lines, error) in table {
        let headers: &'static [(&'static str, &'static [u8])] = Vec::leak(vec![CT, header]);
        let run = serve(&Validator::new(Start { status: "200 OK", headers }), &[], OutputMode::Cgi, b"");
        let error = error.map(|e| if e == STATUS { "AssertionError: The Status header cannot be used; it conflicts with CGI script, and HTTP status is not given through headers" } else { e });
        check(row, &run, lines, error, b"ok");
    }
}

/// §5.5 `check_content_type` and the 204 row of §5.8.
#[test]
#[rustfmt::skip]
fn check_content_type_vectors() {
    let table: &[(&str, &str, &[(&str, &[u8])], &[&str], Option<&str>)] = &[
        ("§5.8 204 with Content-Type", "204 No Content", &[CT], &[], Some("AssertionError: Content-Type header found in a 204 response, which must not return content.")),
        ("§5.5 304 with Content-Type", "304 Not Modified", &[("content-type", b"x")], &[], Some("AssertionError: Content-Type header found in a 304 response, which must not return content.")),
        ("§5.5 200 without", "200 OK", &[], &["wsgiref.validate: No Content-Type header found in headers ([])"], Some("AssertionError: No Content-Type header found in headers")),
        ("§5.5 404 without", "404 Not Found", &[("X", b"y"), ("A", b"it's")], &["wsgiref.validate: No Content-Type header found in headers ([('X', 'y'), ('A', \"it's\")])"], Some("AssertionError: No Content-Type header found in headers")),
        ("§5.5 any case", "200 OK", &[("content-TYPE", b"text/plain")], &[], None),
        ("§5.5 204 without", "204 No Content", &[], &[], None),
        ("§5.5 304 without", "304 Not Modified", &[], &[], None),
    ];
    for &(row, status, headers, lines, error) in table {
        let headers: &'static [(&'static str, &'static [u8])] = Vec::leak(headers.to_vec());
        let run = serve(&Validator::new(Start { status, headers }), &[], OutputMode::Cgi, b"");
        match error {
            Some(_) => check(row, &run, lines, error, b""),
            None => {
                assert_eq!(run.outcome.error, None, "{row}");
                assert!(run.output.starts_with(format!("Status: {status}\r\n").as_bytes()), "{row}");
            }
        }
    }
}

/// Misuse of `start_response`, `write`, `wsgi.input` and the return value (§5.1, §5.6,
/// §5.7), one application each. Each row: the source, the application, the validator's
/// lines and the logged error.
#[test]
#[rustfmt::skip]
fn misuse_vectors() {
    type App = fn(&mut Request<'_, '_>, &mut StartResponse<'_>) -> Result<Bytes<&'static [u8]>, AppError>;
    let table: &[(&str, App, &[&str], Option<&str>)] = &[
        ("§5.1 start_response never called (IteratorWrapper's first-item check)",
            |_, _| Ok(Bytes::new(b"x")),
            &[], Some("AssertionError: The application returns and we started iterating over its body, but start_response has not yet been called")),
        ("§5.7 write before start_response (WriteWrapper exists only after it in CPython)",
            |_, sr| { sr.write(b"x")?; sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Bytes::new(b"")) },
            &[], Some("AssertionError: write() before start_response()")),
        ("§5.7 test_wsgi_input: read() without a size is a read into an empty buffer",
            |req, _| { req.input.read(&mut [])?; unreachable!() },
            &[], Some("AssertionError")),
        ("§5.7 the refused read is sticky when the application swallows it",
            |req, sr| { let _ = req.input.read(&mut []); sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Bytes::new(b"ok")) },
            &[], Some("AssertionError")),
        ("§5.3 a refused start_response is sticky when the application swallows it",
            |_, sr| { let _ = sr.start("20 OK", &[]); sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Bytes::new(b"ok")) },
            &["wsgiref.validate: Status codes must be three characters: '20'"], Some("AssertionError: Status codes must be three characters")),
        ("§5.6 exc_info before the head is sent: replaced, and checked as any start_response",
            |_, sr| { sr.start("200 OK", &[("Content-Type", "text/plain")])?; sr.restart("20 Oops", &[])?; Ok(Bytes::new(b"ok")) },
            &["wsgiref.validate: Status codes must be three characters: '20'"], Some("AssertionError: Status codes must be three characters")),
        ("§5.1 a second start_response without exc_info: the gateway raises",
            |_, sr| { sr.start("200 OK", &[("Content-Type", "text/plain")])?; sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Bytes::new(b"ok")) },
            &[], Some("AssertionError: Headers already set!")),
        ("§5.6 exc_info after the head was sent: the gateway raises, nothing more can be sent",
            |_, sr| { sr.start("200 OK", &[("Content-Type", "text/plain")])?; sr.write(b"x")?; sr.restart("500 Oops", &[("Content-Type", b"text/plain")])?; Ok(Bytes::new(b"ok")) },
            &[], None),
        ("the application's own error passes through",
            |_, _| Err(AppError::new("boom")),
            &[], Some("Error: boom")),
    ];
    for &(row, app, lines, error) in table {
        let run = serve(&validator(app), &[], OutputMode::Cgi, b"abc");
        if row.starts_with("§5.6 exc_info after") {
            assert_eq!(run.log, "AssertionError: Headers already sent\n\"GET / HTTP/1.0\" 200 1\n", "{row}");
            assert_eq!(run.output, b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nx", "{row}");
            continue;
        }
        check(row, &run, lines, error, b"");
    }
}

/// `exc_info` before the head is sent replaces the response (through the validator).
#[test]
fn restart_before_the_head_is_sent_replaces_the_response() {
    fn app(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        sr.restart("503 Busy", &[("Content-Type", b"text/plain")])?;
        Ok(Bytes::new(b"later"))
    }
    let run = serve(&validator(app), &[], OutputMode::Cgi, b"");
    assert_eq!(run.outcome.error, None);
    assert_eq!(
        text(&run.output),
        "Status: 503 Busy\r\nContent-Type: text/plain\r\n\r\nlater"
    );
}

/// §5.7 `InputWrapper.read(size)` passes reads through (the echo of CPython's
/// gh-67765 pass-through tests).
#[test]
fn input_reads_pass_through() {
    fn echo(
        req: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<Vec<u8>>, AppError> {
        let mut body = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match req.input.read(&mut buf)? {
                0 => break,
                n => body.extend_from_slice(&buf[..n]),
            }
        }
        sr.start("200 OK", &[("Content-Type", "application/octet-stream")])?;
        Ok(Bytes::new(body))
    }
    let run = serve(
        &validator(echo),
        &[Set("CONTENT_LENGTH", s(b"11"))],
        OutputMode::Cgi,
        b"hello world",
    );
    check("echo", &run, &[], None, b"hello world");
    // No Content-Length: the validated body hides its length (§5.7, IteratorWrapper).
    assert_eq!(
        text(&run.output),
        "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nhello world"
    );
}

/// §7.1 test_validated_hello: the bytes of test_plain_hello without `Content-Length: 13`
/// (origin output as `run_amock`): byte for byte, no header added.
#[test]
fn test_validated_hello() {
    let head = "HTTP/1.0 200 OK\r\nServer: WSGIServer/0.2 CPython/3.11.7\r\nContent-Type: \
                text/plain\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\n";
    let plain = serve(&hello_app, &[], OutputMode::Origin, b"");
    assert_eq!(
        text(&plain.output),
        format!("{head}Content-Length: 13\r\n\r\nHello, world!")
    );
    let validated = serve(&validator(hello_app), &[], OutputMode::Origin, b"");
    assert_eq!(text(&validated.output), format!("{head}\r\nHello, world!"));
    assert_eq!(validated.log, "\"GET / HTTP/1.0\" 200 13\n");
}

/// §7.1 test_simple_validation_error, in property form (the tuple-for-a-list of CPython is
/// a type here; a bad header name fails the same way): the 500 error output, and the
/// logged error's line is `Kind: message`, followed by the access log line.
#[test]
fn test_simple_validation_error() {
    fn bad_app(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        sr.start(
            "200 OK",
            &[("Content-Type", "text/plain"), ("Bad Name", "x")],
        )?;
        Ok(Bytes::new(b"Hello, world!"))
    }
    let run = serve(&validator(bad_app), &[], OutputMode::Origin, b"");
    assert!(run.output.ends_with(ERROR_BODY));
    assert!(
        run.output
            .starts_with(b"HTTP/1.0 500 Internal Server Error\r\n")
    );
    let lines: Vec<&str> = run.log.lines().collect();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "AssertionError: Bad header name",
            "\"GET / HTTP/1.0\" 500 59"
        ]
    );
    assert_eq!(lines[0], "wsgiref.validate: Bad header name: 'Bad Name'");
}

/// §7.1 test_status_validation_errors: without the validator, the handler refuses the
/// statuses itself with an `AssertionError` and sends the error body. (CPython has a
/// message for each; this port's handler has one.)
#[test]
fn test_status_validation_errors() {
    for status in ["200", "20X OK", "200OK"] {
        let run = serve(
            &Start {
                status,
                headers: &[CT],
            },
            &[],
            OutputMode::Origin,
            b"",
        );
        assert!(run.output.ends_with(ERROR_BODY), "{status}");
        let lines: Vec<&str> = run.log.lines().collect();
        assert_eq!(
            lines,
            [
                "AssertionError: Status must be 3 digits, a space and a reason phrase",
                "\"GET / HTTP/1.0\" 500 59"
            ],
            "{status}"
        );
    }
}

/// §7.1 test_wsgi_input: a validated application reads `wsgi.input` without a size (here:
/// into an empty buffer) before `start_response`: the error body, and the penultimate log
/// line is exactly `AssertionError`.
#[test]
fn test_wsgi_input() {
    fn bad_app(
        req: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        req.input.read(&mut [])?;
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Bytes::new(b"data"))
    }
    let run = serve(&validator(bad_app), &[], OutputMode::Origin, b"");
    assert!(run.output.ends_with(ERROR_BODY));
    let lines: Vec<&str> = run.log.lines().collect();
    assert_eq!(lines[lines.len() - 2], "AssertionError");
}

/// §7.1 test_bytes_validation: exact output, access log `200 4`.
#[test]
fn test_bytes_validation() {
    fn app(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        sr.start(
            "200 OK",
            &[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Date", "Wed, 24 Dec 2008 13:29:32 GMT"),
            ],
        )?;
        Ok(Bytes::new(b"data"))
    }
    let run = serve(&validator(app), &[], OutputMode::Origin, b"");
    assert!(run.log.ends_with("\"GET / HTTP/1.0\" 200 4\n"));
    assert_eq!(
        text(&run.output),
        "HTTP/1.0 200 OK\r\nServer: WSGIServer/0.2 CPython/3.11.7\r\nContent-Type: text/plain; \
         charset=utf-8\r\nDate: Wed, 24 Dec 2008 13:29:32 GMT\r\n\r\ndata"
    );
}

/// §7.1 test_cp1252_url: a validated application returns `PATH_INFO` (here as the server
/// decoded `/\x80%80`): a body block borrowed from the environ passes the validator.
#[test]
fn test_cp1252_url() {
    struct PathInfo;
    impl Body for PathInfo {
        fn next_block<'b>(
            &'b mut self,
            req: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            let done = req.environ.contains("x.sent");
            if done {
                return None;
            }
            req.environ.set("x.sent", b"").ok()?;
            req.environ.get("PATH_INFO").map(Ok)
        }
    }
    fn app(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>) -> Result<PathInfo, AppError> {
        sr.start(
            "200 OK",
            &[
                ("Content-Type", "text/plain"),
                ("Date", "Wed, 24 Dec 2008 13:29:32 GMT"),
            ],
        )?;
        Ok(PathInfo)
    }
    let run = serve(
        &validator(app),
        &[Set("PATH_INFO", s(b"/\x80\x80"))],
        OutputMode::Origin,
        b"",
    );
    let lines: Vec<&[u8]> = run.output.split(|&b| b == b'\n').collect();
    assert_eq!(lines[0], b"HTTP/1.0 200 OK\r");
    assert!(lines[1].starts_with(b"Server: "));
    assert_eq!(
        lines[2..],
        [
            &b"Content-Type: text/plain\r"[..],
            b"Date: Wed, 24 Dec 2008 13:29:32 GMT\r",
            b"\r",
            b"/\x80\x80"
        ]
    );
}

/// The seed's deliberately broken application (`shared/seeds/000_380bfdfbd9352aee.txt`,
/// the `wsgiref.validate` example) returns `b"Hello World"` instead of `[b"Hello World"]`.
/// Returning a byte string does not compile here (see the module docs' `compile_fail`
/// example). The closest runtime misuse is a body that is "one string" to the gateway
/// (`single_block()`) but is iterated piece by piece, as Python iterates a bytes object:
/// without the validator the gateway trusts it, sends `Content-Length: 1` and fails on the
/// second block; with it, the response streams without a length and the lie is reported.
/// The seed's application written correctly passes (its `Content-type` is case-insensitive).
#[test]
fn seed_simple_app() {
    /// A byte string iterated byte by byte, claiming to be one block.
    struct Text {
        text: &'static [u8],
        at: usize,
    }
    impl Body for Text {
        fn next_block<'b>(
            &'b mut self,
            _: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            let block = self.text.get(self.at..self.at + 1)?;
            self.at += 1;
            Some(Ok(block))
        }
        fn single_block(&self) -> bool {
            true
        }
    }
    fn simple_app(
        _: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Text, AppError> {
        start_response.start("200 OK", &[("Content-type", "text/plain")])?;
        Ok(Text {
            text: b"Hello World",
            at: 0,
        })
    }
    fn fixed_app(
        _: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        start_response.start("200 OK", &[("Content-type", "text/plain")])?;
        Ok(Bytes::new(b"Hello World"))
    }

    let plain = serve(&simple_app, &[], OutputMode::Cgi, b"");
    assert_eq!(
        text(&plain.output),
        "Status: 200 OK\r\nContent-type: text/plain\r\nContent-Length: 1\r\n\r\nH"
    );
    assert_eq!(
        plain.log,
        "AssertionError: Body longer than its Content-Length\n\"GET / HTTP/1.0\" 200 1\n"
    );

    let validated = serve(&validator(simple_app), &[], OutputMode::Cgi, b"");
    assert_eq!(
        text(&validated.output),
        "Status: 200 OK\r\nContent-type: text/plain\r\n\r\nH"
    );
    assert_eq!(
        validated.log,
        "AssertionError: The body reported a single block (single_block() is true) but \
         yielded a second one\n\"GET / HTTP/1.0\" 200 1\n"
    );

    let fixed = serve(&validator(fixed_app), &[], OutputMode::Cgi, b"");
    check("seed, fixed", &fixed, &[], None, b"Hello World");
}

/// A gateway that accepts everything: the validator checks the gateway's side too.
#[derive(Default)]
struct LaxGateway {
    started: bool,
    sent: bool,
}

impl ResponseStart for LaxGateway {
    fn start(&mut self, _: &str, _: ResponseHeaders<'_>, _: bool) -> Result<(), AppError> {
        self.started = true;
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        self.sent |= !data.is_empty();
        Ok(())
    }
    fn headers_sent(&self) -> bool {
        self.sent
    }
    fn started(&self) -> bool {
        self.started
    }
}

/// An input that reports more than it was asked for.
struct LyingInput;

impl embedded_io::ErrorType for LyingInput {
    type Error = InputError;
}

impl embedded_io::Read for LyingInput {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        Ok(buf.len() + 1)
    }
}

/// Calls `app` through the validator directly, with `input` and a lax gateway.
fn call_direct<A: Application>(
    app: A,
    input: &mut Input<'_>,
) -> (
    Result<<Validator<A> as Application>::Body, AppError>,
    String,
) {
    let mut arena = [0u8; 256];
    let mut environ = Environ::from_pairs(BASE, &mut arena);
    environ
        .set_value("wsgi.version", Value::Version(1, 0))
        .unwrap();
    for flag in ["wsgi.run_once", "wsgi.multithread", "wsgi.multiprocess"] {
        environ.set_value(flag, Value::Bool(false)).unwrap();
    }
    let mut errors = String::new();
    let mut gateway = LaxGateway::default();
    let mut start_response = StartResponse::new(&mut gateway);
    let mut req = Request {
        environ: &mut environ,
        input,
        errors: &mut errors,
    };
    let result = Validator::new(app).call(&mut req, &mut start_response);
    (result, errors)
}

/// PEP 3333's gateway duties, checked against a gateway that ignores them (beyond CPython).
#[test]
#[rustfmt::skip]
fn gateway_side_vectors() {
    type App = fn(&mut Request<'_, '_>, &mut StartResponse<'_>) -> Result<Empty, AppError>;
    let table: &[(&str, App, &str)] = &[
        ("a second start_response without exc_info must raise",
            |_, sr| { sr.start("200 OK", &[("Content-Type", "text/plain")])?; sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Empty) },
            "AssertionError: The gateway accepted a second start_response() without exc_info; PEP 3333 requires it to raise"),
        ("exc_info after the head was sent must raise",
            |_, sr| { sr.start("200 OK", &[("Content-Type", "text/plain")])?; sr.write(b"x")?; sr.restart("500 Oops", &[("Content-Type", b"text/plain")])?; Ok(Empty) },
            "AssertionError: The gateway accepted start_response() with exc_info after the headers were sent; PEP 3333 requires it to raise"),
        ("wsgi.input.read must not report more than the buffer",
            |req, sr| { let _ = req.input.read(&mut [0u8; 4]); sr.start("200 OK", &[("Content-Type", "text/plain")])?; Ok(Empty) },
            "AssertionError: wsgi.input.read() reported more bytes than the buffer holds"),
    ];
    for &(row, app, error) in table {
        let (result, errors) = call_direct(app, &mut LyingInput);
        assert_eq!(result.err().map(|e| e.to_string()).as_deref(), Some(error), "{row}");
        assert_eq!(errors, "", "{row}");
    }
}

/// §5.7 IteratorWrapper: no pull after the end (after `None` or an error); the length and
/// the file are hidden.
#[test]
fn body_after_its_end() {
    fn app(
        _: &mut Request<'_, '_>,
        sr: &mut StartResponse<'_>,
    ) -> Result<Bytes<&'static [u8]>, AppError> {
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Bytes::new(b"x"))
    }
    let (body, _) = call_direct(app, &mut SliceInput(b""));
    let mut body = body.unwrap();
    assert!(!body.single_block(), "IteratorWrapper has no len()");
    assert!(
        body.file().is_none(),
        "IteratorWrapper hides the file wrapper"
    );
    let mut arena = [0u8; 16];
    let mut environ = Environ::from_pairs(&[], &mut arena);
    let mut errors = String::new();
    let mut req = Request {
        environ: &mut environ,
        input: &mut SliceInput(b""),
        errors: &mut errors,
    };
    assert_eq!(body.next_block(&mut req), Some(Ok(&b"x"[..])));
    assert_eq!(body.next_block(&mut req), None);
    let again = body.next_block(&mut req).unwrap().unwrap_err();
    assert_eq!(
        again.to_string(),
        "AssertionError: Iterator read after its end"
    );

    struct Failing;
    impl Body for Failing {
        fn next_block<'b>(
            &'b mut self,
            _: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            Some(Err(AppError::new("disk")))
        }
    }
    let failing = |_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>| {
        sr.start("200 OK", &[("Content-Type", "text/plain")])?;
        Ok(Failing)
    };
    let (body, _) = call_direct(failing, &mut SliceInput(b""));
    let mut body = body.unwrap();
    assert_eq!(body.next_block(&mut req), Some(Err(AppError::new("disk"))));
    let again = body.next_block(&mut req).unwrap().unwrap_err();
    assert_eq!(again.message(), "Iterator read after its end");
}
