//! `wsgiref.validate`: a WSGI conformance checker, as middleware.
//!
//! [`Validator`] (Python's `validator(application)`) wraps an [`Application`] and checks
//! both sides of every call against PEP 3333, in every build (CPython raises its
//! `AssertionError`s explicitly so they survive `python -O`; here the checks are plain code):
//! the environ the gateway hands in, the status and headers the application gives
//! `start_response`, the use of `write`, `wsgi.input` and the body.
//!
//! A violation is an [`AppError`] of kind `AssertionError`, returned from the call that
//! committed it (`start_response`, `write`, a read of `wsgi.input`, the application call, a
//! pull of the body). The gateway treats it like any application error: logged, and turned
//! into the 500 error output if the head has not been sent ([`crate::handler::run`]).
//! Violations are *sticky*: an application that discards the `Err` of a refused
//! `start_response` or read still fails, with the first violation, when it returns (Python's
//! exception propagates on its own; a Rust `Result` is easily dropped).
//!
//! ## Messages
//!
//! The messages are CPython's. Where CPython's message includes the offending value (a
//! `%r`), the [`AppError`] carries the message up to that value (its text is static, as this
//! crate allocates nothing), and the complete CPython message is written to `wsgi.errors`
//! first, as one line:
//!
//! ```text
//! wsgiref.validate: Status codes must be three characters: '20'
//! ```
//!
//! so the log reads like the end of the Python traceback, with the gateway's own
//! `AssertionError: Status codes must be three characters` line after it. Values are shown
//! with Python's `repr()` (latin-1 text; the printability of characters beyond U+00FF is
//! approximated). Messages without a value are carried whole, and several are empty, as in
//! CPython (gh-58857): such an error prints as a bare `AssertionError`.
//!
//! Warnings (CPython's `WSGIWarning`, through the `warnings` module to `sys.stderr`) are
//! written to `wsgi.errors` as one line each, `WSGIWarning: message`, on every request
//! (Python's default filter shows each warning once per location; that needs global
//! state).
//!
//! ## The checks, and what became of each
//!
//! | CPython | here |
//! |---|---|
//! | `lint_app`: two positional arguments, no keywords | the type of [`Application::call`] |
//! | `lint_app` replaces `wsgi.input` and `wsgi.errors` in the caller's environ with its wrappers | the wrapped application gets a [`Request`] of its own; the gateway's is untouched |
//! | environ is exactly a `dict` | the type of [`Environ`] |
//! | required keys, in CPython's order: `REQUEST_METHOD`, `SERVER_NAME`, `SERVER_PORT`, `wsgi.version`, `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once` | checked, same messages |
//! | required keys `wsgi.input`, `wsgi.errors`, their methods (`read`, `readline`, `readlines`, `__iter__`; `flush`, `write`, `writelines`) | not environ values here: they are [`Request`] fields whose types guarantee them |
//! | no `HTTP_CONTENT_TYPE` / `HTTP_CONTENT_LENGTH` | checked |
//! | warning when `QUERY_STRING` is missing | checked |
//! | every key without a `.` has a `str` value | checked: it must be a [`Value::Str`] (`Environmental variable FOO is not a string: <class 'bool'> (value: True)`) |
//! | `wsgi.version` is a `tuple` | checked: it must be a [`Value::Version`] |
//! | `wsgi.url_scheme` is `http` or `https` | checked; a missing key is `Environment missing required key: 'wsgi.url_scheme'` (CPython: `KeyError`) |
//! | warning on an unknown `REQUEST_METHOD` | checked (case-sensitive; `CONNECT` is unknown, as in CPython) |
//! | `SCRIPT_NAME`, `PATH_INFO` empty or starting with `/` | checked; a missing key counts as empty (CPython: `KeyError`, §8.6), which makes the "One of SCRIPT_NAME or PATH_INFO are required" check reachable, as intended |
//! | `CONTENT_LENGTH`, if not empty, is an `int` `>= 0` | checked with Python's `int()` syntax (surrounding whitespace, a sign, `_` between digits; ASCII digits only); not an integer is `Invalid CONTENT_LENGTH: 'abc'` (CPython: `ValueError`) |
//! | `SCRIPT_NAME` is not `/` | checked |
//! | status is a `str` | the type (`&str`) |
//! | status code: first whitespace-separated token, three characters, an `int`, `>= 100` | checked; an empty status is `Status codes must be three characters: ''` (CPython: `IndexError`), a code that is not an integer is `Status code is invalid: '20X'` (CPython: `ValueError`) |
//! | warning unless the status is three characters and a space | checked |
//! | headers are a `list` of 2-`tuple`s of `str` | the type (`&[(&str, &[u8])]`; values are latin-1 bytes) |
//! | no `Status` header; no `:` or `\n` in names; names match `^[a-zA-Z][a-zA-Z0-9\-_]*$`, do not end in `-` or `_`; no character `\x00`-`\x1f` in values | checked, in that order |
//! | `Content-Type` required, except for 204 and 304, where it is forbidden | checked |
//! | `exc_info` is `None` or a `tuple` | the type: the `exc_info` form is [`StartResponse::restart`], which takes no exception object |
//! | `write(data)` takes `bytes` | the type; also checked: `write` before `start_response` (`write() before start_response()`), which Python's shape cannot express |
//! | `write` after the body finished | cannot happen: [`StartResponse`] is lent to the application only for the duration of [`Application::call`], and a [`Body`] never gets it |
//! | the application returns an iterable, not `None`/`False`, not a `str`/`bytes` | the type: `call` returns a [`Body`] (returning a byte string does not compile, see below) |
//! | the body yields `bytes` | the type (`&[u8]`) |
//! | `start_response` called before the first block | checked when the application returns (a body cannot call `start_response` here, so that is the latest moment it can happen); same message. Unlike CPython, an empty body does not escape it (CPython's check runs on the first item, and the handler fails instead) |
//! | no iteration after `close()`; `close()` called, else "Iterator garbage collected without being closed" | dropping a body is `close()`, so both hold by construction; what can go wrong is a pull after the body ended (after `None` or an error), which is checked: `Iterator read after its end` |
//! | the body has no `len()` (so no Content-Length inference) | kept: [`ValidatedBody::single_block`] is `false` and [`ValidatedBody::file`] is `None`, so a validated response never has an inferred `Content-Length` nor a file fast path, as in CPython |
//! | `wsgi.input.read(size)` takes exactly one argument (bpo-18610), returns `bytes` | `read(buf)` always has a size: its buffer. The counterpart of the unbounded `read()` is a read into an **empty buffer**: it cannot make progress, and its `Ok(0)` looks like the end of the body to a naive loop. It is refused with a message-less `AssertionError`, like CPython's `read()` |
//! | `readline`, `readlines`, `__iter__`, `close` of `wsgi.input` | no counterpart: the input is an [`embedded_io::Read`] |
//! | `wsgi.errors.write` takes a `str`; no `close` | the type (`fmt::Write`): errors are passed through unwrapped |
//!
//! Beyond CPython, the validator also checks the gateway's side where the application
//! interface lets it see it: a read of `wsgi.input` that reports more bytes than its buffer
//! holds, a `start_response` repeated without `exc_info` that the gateway accepts, and an
//! `exc_info` `start_response` after the head was sent that the gateway accepts (PEP 3333
//! requires the gateway to raise for both). And it checks a body that reports
//! [`Body::single_block`] but yields a second block (a gateway would have sent a
//! `Content-Length` for the first block only).
//!
//! Not checked: reads of `wsgi.input` made by the body while it streams. A body's block may
//! borrow from the request it is handed ([`Body::next_block`]), so middleware cannot hand it
//! a request of its own, and the body sees the gateway's input directly.
//!
//! ## Returning a byte string
//!
//! The seed's deliberately broken application returns `b"Hello World"` instead of a list
//! holding it, which CPython's validator reports as "You should not return a string as your
//! application iterator, instead return a single-item list containing a bytestring." Here
//! it does not compile: a byte string is not a [`Body`] ([`crate::app::Bytes`] is the
//! single-item list).
//!
//! ```compile_fail
//! use wsgiref::app::{AppError, Request, StartResponse};
//! use wsgiref::validate::validator;
//!
//! fn simple_app(_: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
//!     -> Result<&'static [u8], AppError>
//! {
//!     start_response.start("200 OK", &[("Content-type", "text/plain")])?;
//!     Ok(b"Hello World")
//! }
//!
//! let validator_app = validator(simple_app);
//! ```

use core::cell::{Cell, RefCell};
use core::fmt::{self, Write as _};

use embedded_io::{ErrorType, Read};

use crate::app::{
    AppError, Application, Body, FileSource, Input, InputError, Request, ResponseHeaders,
    ResponseStart, StartResponse,
};
use crate::environ::{Environ, Value};

/// The kind of every violation.
const ASSERTION: &str = "AssertionError";

/// How a line with a violation's complete message begins in `wsgi.errors`.
const DETAIL: &str = "wsgiref.validate: ";

/// How a warning line begins in `wsgi.errors`.
const WARNING: &str = "WSGIWarning: ";

/// Required environ keys, in CPython's order, each with its message.
const REQUIRED: [(&str, &str); 7] = [
    (
        "REQUEST_METHOD",
        "Environment missing required key: 'REQUEST_METHOD'",
    ),
    (
        "SERVER_NAME",
        "Environment missing required key: 'SERVER_NAME'",
    ),
    (
        "SERVER_PORT",
        "Environment missing required key: 'SERVER_PORT'",
    ),
    (
        "wsgi.version",
        "Environment missing required key: 'wsgi.version'",
    ),
    (
        "wsgi.multithread",
        "Environment missing required key: 'wsgi.multithread'",
    ),
    (
        "wsgi.multiprocess",
        "Environment missing required key: 'wsgi.multiprocess'",
    ),
    (
        "wsgi.run_once",
        "Environment missing required key: 'wsgi.run_once'",
    ),
];

const MISSING_URL_SCHEME: &str = "Environment missing required key: 'wsgi.url_scheme'";

const FORBIDDEN: [(&str, &str); 2] = [
    (
        "HTTP_CONTENT_TYPE",
        "Environment should not have the key: HTTP_CONTENT_TYPE (use CONTENT_TYPE instead)",
    ),
    (
        "HTTP_CONTENT_LENGTH",
        "Environment should not have the key: HTTP_CONTENT_LENGTH (use CONTENT_LENGTH instead)",
    ),
];

const NO_QUERY_STRING: &str = "QUERY_STRING is not in the WSGI environment; the cgi module will \
                               use sys.argv when this variable is missing, so application errors \
                               are more likely";

const KNOWN_METHODS: [&[u8]; 8] = [
    b"GET", b"HEAD", b"POST", b"OPTIONS", b"PATCH", b"PUT", b"DELETE", b"TRACE",
];

const NOT_A_STRING: &str = "Environmental variable is not a string";
const VERSION_NOT_TUPLE: &str = "wsgi.version should be a tuple";
const UNKNOWN_SCHEME: &str = "wsgi.url_scheme unknown";
const SCRIPT_NAME_SLASH: &str = "SCRIPT_NAME doesn't start with /";
const PATH_INFO_SLASH: &str = "PATH_INFO doesn't start with /";
const INVALID_CONTENT_LENGTH: &str = "Invalid CONTENT_LENGTH";
const NO_PATH: &str = "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least \
                       be '/' if SCRIPT_NAME is empty)";
const SCRIPT_NAME_ROOT: &str =
    "SCRIPT_NAME cannot be '/'; it should instead be '', and PATH_INFO should be '/'";

const STATUS_THREE_CHARACTERS: &str = "Status codes must be three characters";
const STATUS_INVALID: &str = "Status code is invalid";

const STATUS_HEADER: &str = "The Status header cannot be used; it conflicts with CGI script, and \
                             HTTP status is not given through headers";
const NAME_COLON_NEWLINE: &str = "Header names may not contain ':' or '\\n'";
const BAD_NAME: &str = "Bad header name";
const NAME_END: &str = "Names may not end in '-' or '_'";
const BAD_VALUE: &str = "Bad header value";
const CONTENT_TYPE_204: &str =
    "Content-Type header found in a 204 response, which must not return content.";
const CONTENT_TYPE_304: &str =
    "Content-Type header found in a 304 response, which must not return content.";
const NO_CONTENT_TYPE: &str = "No Content-Type header found in headers";

const WRITE_BEFORE_START: &str = "write() before start_response()";
const NOT_STARTED: &str = "The application returns and we started iterating over its body, but \
                           start_response has not yet been called";
const READ_AFTER_END: &str = "Iterator read after its end";
const SINGLE_BLOCK_LIE: &str =
    "The body reported a single block (single_block() is true) but yielded a second one";

const GATEWAY_SECOND_START: &str = "The gateway accepted a second start_response() without \
                                    exc_info; PEP 3333 requires it to raise";
const GATEWAY_RESTART_AFTER_SENT: &str = "The gateway accepted start_response() with exc_info \
                                          after the headers were sent; PEP 3333 requires it to \
                                          raise";
const GATEWAY_READ_TOO_MUCH: &str = "wsgi.input.read() reported more bytes than the buffer holds";

/// Wraps `application` in a [`Validator`] (Python's `wsgiref.validate.validator`).
pub fn validator<A: Application>(application: A) -> Validator<A> {
    Validator::new(application)
}

/// An application that checks the gateway and the application it wraps for PEP 3333
/// conformance (Python's `validator(application)`, the `lint_app` it returns). See the
/// [module docs](self) for every check.
///
/// Violations are `AssertionError` [`AppError`]s; the complete message of one that names a
/// value, and every warning, are also written to `wsgi.errors`.
///
/// ```
/// use wsgiref::app::{AppError, Bytes, Request, StartResponse};
/// use wsgiref::environ::{Environ, Value};
/// use wsgiref::handler::{self, CgiIo, OutputMode, ResponseWriter, Transport, TransportError};
/// use wsgiref::validate::Validator;
///
/// /// Standard output, in memory.
/// struct Stdout(Vec<u8>);
/// impl Transport for Stdout {
///     fn read(&mut self, _: &mut [u8]) -> Result<usize, TransportError> {
///         Ok(0)
///     }
///     fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
///         pieces.iter().for_each(|p| self.0.extend_from_slice(p));
///         Ok(())
///     }
/// }
///
/// /// Forgets the Content-Type.
/// fn hello(_: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
///     -> Result<Bytes<&'static [u8]>, AppError>
/// {
///     start_response.start("200 OK", &[("X-Greeting", "hi")])?;
///     Ok(Bytes::new(b"Hello World"))
/// }
///
/// let pairs: &[(&str, &[u8])] = &[
///     ("REQUEST_METHOD", b"GET"), ("SCRIPT_NAME", b""), ("PATH_INFO", b"/"),
///     ("QUERY_STRING", b""), ("SERVER_NAME", b"127.0.0.1"), ("SERVER_PORT", b"80"),
///     ("wsgi.url_scheme", b"http"),
/// ];
/// let mut arena = [0u8; 128];
/// let mut environ = Environ::from_pairs(pairs, &mut arena);
/// environ.set_value("wsgi.version", Value::Version(1, 0)).unwrap();
/// for flag in ["wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"] {
///     environ.set_value(flag, Value::Bool(false)).unwrap();
/// }
///
/// let (mut tx, mut stdout, mut stderr) = ([0u8; 512], Stdout(Vec::new()), String::new());
/// let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.0");
/// let mut io = CgiIo::new(writer, &mut stdout, 0);
/// let outcome = handler::run(&Validator::new(hello), &mut environ, &mut stderr, &mut io);
///
/// let error = outcome.error.unwrap();
/// assert_eq!(error.to_string(), "AssertionError: No Content-Type header found in headers");
/// assert_eq!(
///     stderr,
///     "wsgiref.validate: No Content-Type header found in headers ([('X-Greeting', 'hi')])\n"
/// );
/// assert_eq!(outcome.status, 500);
/// assert!(stdout.0.starts_with(b"Status: 500 Internal Server Error\r\n"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Validator<A> {
    application: A,
}

impl<A> Validator<A> {
    /// Wraps `application`.
    pub const fn new(application: A) -> Self {
        Self { application }
    }

    /// The wrapped application.
    pub const fn get_ref(&self) -> &A {
        &self.application
    }

    /// Unwraps the application.
    pub fn into_inner(self) -> A {
        self.application
    }
}

impl<A: Application> Application for Validator<A> {
    type Body = ValidatedBody<A::Body>;

    /// Checks the environ, calls the application with a validating `start_response` and
    /// `wsgi.input`, and wraps its body.
    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Self::Body, AppError> {
        check_environ(req.environ, req.errors)?;
        let violation = Cell::new(None);
        let errors: RefCell<&mut dyn fmt::Write> = RefCell::new(&mut *req.errors);
        let mut input = InputWrapper {
            inner: &mut *req.input,
            violation: &violation,
        };
        let mut app_errors = SharedErrors(&errors);
        let mut starter = StartWrapper {
            inner: start_response,
            errors: SharedErrors(&errors),
            violation: &violation,
        };
        let result = {
            let mut start = StartResponse::new(&mut starter);
            let mut inner = Request {
                environ: &mut *req.environ,
                input: &mut input,
                errors: &mut app_errors,
            };
            self.application.call(&mut inner, &mut start)
        };
        if let Some(e) = violation.get() {
            return Err(e);
        }
        let body = result?;
        if !starter.inner.started() {
            return Err(assertion(NOT_STARTED));
        }
        Ok(ValidatedBody {
            inner: body,
            state: BodyState::Fresh,
        })
    }
}

/// The body of a validated application (Python's `IteratorWrapper`): refuses pulls after
/// the end, and hides the length and the file of the body it wraps.
#[derive(Debug)]
pub struct ValidatedBody<B> {
    inner: B,
    state: BodyState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyState {
    /// Not pulled yet.
    Fresh,
    /// Streaming; whether the body said it was a single block before its first pull.
    Streaming { single: bool },
    /// Ended (`None` or an error): no more pulls.
    Ended,
}

impl<B: Body> Body for ValidatedBody<B> {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        let single = match self.state {
            BodyState::Ended => return Some(Err(assertion(READ_AFTER_END))),
            BodyState::Fresh => self.inner.single_block(),
            BodyState::Streaming { single } => single,
        };
        let first = self.state == BodyState::Fresh;
        match self.inner.next_block(req) {
            None => {
                self.state = BodyState::Ended;
                None
            }
            Some(Err(e)) => {
                self.state = BodyState::Ended;
                Some(Err(e))
            }
            Some(Ok(_)) if single && !first => {
                self.state = BodyState::Ended;
                Some(Err(assertion(SINGLE_BLOCK_LIE)))
            }
            Some(Ok(block)) => {
                self.state = BodyState::Streaming { single };
                Some(Ok(block))
            }
        }
    }

    /// Always `false`, as CPython's `IteratorWrapper` has no `len()`: the gateway never
    /// infers a `Content-Length` through the validator.
    fn single_block(&self) -> bool {
        false
    }

    /// Always `None`, as CPython's `IteratorWrapper` hides the file wrapper.
    fn file(&mut self) -> Option<&mut dyn FileSource> {
        None
    }
}

/// An `AssertionError` with a static message.
const fn assertion(message: &'static str) -> AppError {
    AppError::with_kind(ASSERTION, message)
}

/// An `AssertionError` whose complete message (`full`) names a value: the message goes to
/// `errors`, the error carries `short`.
fn detailed(
    errors: &mut dyn fmt::Write,
    short: &'static str,
    full: fmt::Arguments<'_>,
) -> AppError {
    let _ = errors.write_fmt(format_args!("{DETAIL}{full}\n"));
    assertion(short)
}

/// A `WSGIWarning`.
fn warn(errors: &mut dyn fmt::Write, message: fmt::Arguments<'_>) {
    let _ = errors.write_fmt(format_args!("{WARNING}{message}\n"));
}

/// Keeps the first violation.
fn record(violation: &Cell<Option<AppError>>, e: AppError) -> AppError {
    if violation.get().is_none() {
        violation.set(Some(e));
    }
    e
}

/// `check_environ`: the checks of §5.2 in CPython's order.
fn check_environ(environ: &Environ<'_>, errors: &mut dyn fmt::Write) -> Result<(), AppError> {
    for (key, message) in REQUIRED {
        if !environ.contains(key) {
            return Err(assertion(message));
        }
    }
    for (key, message) in FORBIDDEN {
        if environ.contains(key) {
            return Err(assertion(message));
        }
    }
    if !environ.contains("QUERY_STRING") {
        warn(errors, format_args!("{NO_QUERY_STRING}"));
    }
    for (key, value) in environ.iter() {
        if key.bytes().any(|b| b == b'.') {
            // An extension: its type is not checked.
            continue;
        }
        if !matches!(value, Value::Str(_)) {
            return Err(detailed(
                errors,
                NOT_A_STRING,
                format_args!(
                    "Environmental variable {key} is not a string: {} (value: {})",
                    TypeRepr(value),
                    ValueRepr(value)
                ),
            ));
        }
    }
    match environ.value("wsgi.version") {
        Some(Value::Version(..)) => {}
        Some(other) => {
            return Err(detailed(
                errors,
                VERSION_NOT_TUPLE,
                format_args!("wsgi.version should be a tuple ({})", ValueRepr(other)),
            ));
        }
        None => {
            return Err(assertion(
                "Environment missing required key: 'wsgi.version'",
            ));
        }
    }
    match environ.value("wsgi.url_scheme") {
        Some(Value::Str(b"http" | b"https")) => {}
        Some(other) => {
            return Err(detailed(
                errors,
                UNKNOWN_SCHEME,
                format_args!("wsgi.url_scheme unknown: {}", ValueRepr(other)),
            ));
        }
        None => return Err(assertion(MISSING_URL_SCHEME)),
    }
    let method = environ.get("REQUEST_METHOD").unwrap_or_default();
    if !KNOWN_METHODS.contains(&method) {
        warn(
            errors,
            format_args!("Unknown REQUEST_METHOD: {}", latin1(method)),
        );
    }
    let script_name = environ.get("SCRIPT_NAME").unwrap_or_default();
    if !script_name.is_empty() && !script_name.starts_with(b"/") {
        return Err(detailed(
            errors,
            SCRIPT_NAME_SLASH,
            format_args!("SCRIPT_NAME doesn't start with /: {}", latin1(script_name)),
        ));
    }
    let path_info = environ.get("PATH_INFO").unwrap_or_default();
    if !path_info.is_empty() && !path_info.starts_with(b"/") {
        return Err(detailed(
            errors,
            PATH_INFO_SLASH,
            format_args!("PATH_INFO doesn't start with /: {}", latin1(path_info)),
        ));
    }
    let length = environ.get("CONTENT_LENGTH").unwrap_or_default();
    if !length.is_empty() && py_int(length.iter().map(|&b| char::from(b))).is_none_or(|n| n < 0) {
        return Err(detailed(
            errors,
            INVALID_CONTENT_LENGTH,
            format_args!("Invalid CONTENT_LENGTH: {}", latin1(length)),
        ));
    }
    if script_name.is_empty() && !environ.contains("PATH_INFO") {
        return Err(assertion(NO_PATH));
    }
    if script_name == b"/" {
        return Err(assertion(SCRIPT_NAME_ROOT));
    }
    Ok(())
}

/// `check_status`: returns the status code.
fn check_status(errors: &mut dyn fmt::Write, status: &str) -> Result<i64, AppError> {
    // status.split(None, 1)[0]; an empty or blank status has no token (IndexError).
    let code = status
        .split(py_isspace)
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if code.chars().count() != 3 {
        return Err(detailed(
            errors,
            STATUS_THREE_CHARACTERS,
            format_args!("Status codes must be three characters: {}", text(code)),
        ));
    }
    let Some(value) = py_int(code.chars()) else {
        return Err(detailed(
            errors,
            STATUS_INVALID,
            format_args!("Status code is invalid: {}", text(code)),
        ));
    };
    if value < 100 {
        return Err(detailed(
            errors,
            STATUS_INVALID,
            format_args!("Status code is invalid: {value}"),
        ));
    }
    if status.chars().nth(3) != Some(' ') {
        warn(
            errors,
            format_args!(
                "The status string ({}) should be a three-digit integer followed by a single \
                 space and a status explanation",
                text(status)
            ),
        );
    }
    Ok(value)
}

/// `check_headers`: each header in order, each check in order.
fn check_headers(
    errors: &mut dyn fmt::Write,
    headers: ResponseHeaders<'_>,
) -> Result<(), AppError> {
    for (name, value) in headers.iter() {
        if name.eq_ignore_ascii_case("status") {
            return Err(detailed(
                errors,
                STATUS_HEADER,
                format_args!("{STATUS_HEADER} (value: {}).", latin1(value)),
            ));
        }
        if name.contains([':', '\n']) {
            return Err(detailed(
                errors,
                NAME_COLON_NEWLINE,
                format_args!("{NAME_COLON_NEWLINE}: {}", text(name)),
            ));
        }
        let mut bytes = name.bytes();
        let well_formed = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(detailed(
                errors,
                BAD_NAME,
                format_args!("{BAD_NAME}: {}", text(name)),
            ));
        }
        if name.ends_with(['-', '_']) {
            return Err(detailed(
                errors,
                NAME_END,
                format_args!("{NAME_END}: {}", text(name)),
            ));
        }
        if let Some(&bad) = value.iter().find(|&&b| b < 0x20) {
            return Err(detailed(
                errors,
                BAD_VALUE,
                format_args!(
                    "{BAD_VALUE}: {} (bad char: {})",
                    latin1(value),
                    latin1(&[bad])
                ),
            ));
        }
    }
    Ok(())
}

/// `check_content_type`: required unless the status is 204 or 304, forbidden for those.
fn check_content_type(
    errors: &mut dyn fmt::Write,
    code: i64,
    headers: ResponseHeaders<'_>,
) -> Result<(), AppError> {
    let no_body = match code {
        204 => Some(CONTENT_TYPE_204),
        304 => Some(CONTENT_TYPE_304),
        _ => None,
    };
    let has_content_type = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    match (has_content_type, no_body) {
        (true, Some(message)) => Err(assertion(message)),
        (false, None) => Err(detailed(
            errors,
            NO_CONTENT_TYPE,
            format_args!("{NO_CONTENT_TYPE} ({})", HeadersRepr(headers)),
        )),
        _ => Ok(()),
    }
}

/// `start_response` and `write` between the application and the gateway (Python's
/// `start_response_wrapper` and `WriteWrapper`).
struct StartWrapper<'a, 's, 'w> {
    inner: &'a mut StartResponse<'s>,
    errors: SharedErrors<'a, 'w>,
    violation: &'a Cell<Option<AppError>>,
}

impl ResponseStart for StartWrapper<'_, '_, '_> {
    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), AppError> {
        let checked = check_status(&mut self.errors, status).and_then(|code| {
            check_headers(&mut self.errors, headers)?;
            check_content_type(&mut self.errors, code, headers)
        });
        if let Err(e) = checked {
            return Err(record(self.violation, e));
        }
        let (was_started, was_sent) = (self.inner.started(), self.inner.headers_sent());
        let result = self.inner.start_headers(status, headers, replace);
        if result.is_ok() && replace && was_sent {
            return Err(record(
                self.violation,
                assertion(GATEWAY_RESTART_AFTER_SENT),
            ));
        }
        if result.is_ok() && !replace && was_started {
            return Err(record(self.violation, assertion(GATEWAY_SECOND_START)));
        }
        result
    }

    fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        if !self.inner.started() {
            return Err(record(self.violation, assertion(WRITE_BEFORE_START)));
        }
        self.inner.write(data)
    }

    fn headers_sent(&self) -> bool {
        self.inner.headers_sent()
    }

    fn started(&self) -> bool {
        self.inner.started()
    }
}

/// `wsgi.input` (Python's `InputWrapper`).
struct InputWrapper<'a, 'i> {
    inner: &'a mut Input<'i>,
    violation: &'a Cell<Option<AppError>>,
}

impl ErrorType for InputWrapper<'_, '_> {
    type Error = InputError;
}

impl Read for InputWrapper<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        if buf.is_empty() {
            // The counterpart of `read()` without a size (bpo-18610): no message.
            record(self.violation, assertion(""));
            return Err(InputError::Invalid(""));
        }
        let n = self.inner.read(buf)?;
        if n > buf.len() {
            record(self.violation, assertion(GATEWAY_READ_TOO_MUCH));
            return Err(InputError::Invalid(GATEWAY_READ_TOO_MUCH));
        }
        Ok(n)
    }
}

/// `wsgi.errors`, shared by the application and the validator's messages.
struct SharedErrors<'a, 'w>(&'a RefCell<&'w mut dyn fmt::Write>);

impl fmt::Write for SharedErrors<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .try_borrow_mut()
            .map_err(|_| fmt::Error)?
            .write_str(s)
    }
}

/// Python's `str.isspace()` (for `str.split()`), over latin-1 exactly.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\x1c'..='\x1f')
}

/// The whitespace Python's `int()` strips: below U+0080 only ASCII's six (`' '`, `\t`,
/// `\n`, `\v`, `\f`, `\r`; not the separators U+001C to U+001F, which `isspace()` counts),
/// and above it every `isspace()` character (turned into a space before parsing).
fn py_int_space(c: char) -> bool {
    matches!(c, ' ' | '\t'..='\r') || (!c.is_ascii() && py_isspace(c))
}

/// Python's `int(text)` in base 10, `None` where it raises `ValueError`: surrounding
/// whitespace, an optional sign, ASCII digits with single `_` between them. Saturates far
/// beyond what the checks need.
fn py_int(text: impl Iterator<Item = char>) -> Option<i64> {
    let mut chars = text.skip_while(|&c| py_int_space(c));
    let mut value: i64 = 0;
    let (mut negative, mut digits, mut underscore) = (false, false, false);
    let mut first = true;
    loop {
        let c = chars.next();
        match c {
            Some(sign @ ('+' | '-')) if first => negative = sign == '-',
            Some(d @ '0'..='9') => {
                let d = i64::from(u32::from(d) - u32::from('0'));
                value = value.saturating_mul(10).saturating_add(d);
                digits = true;
                underscore = false;
            }
            Some('_') if digits && !underscore => underscore = true,
            Some(w) if py_int_space(w) && digits && !underscore => {
                if chars.all(py_int_space) {
                    break;
                }
                return None;
            }
            None if digits && !underscore => break,
            _ => return None,
        }
        first = false;
    }
    Some(if negative { -value } else { value })
}

/// Text to show with Python's `repr()`.
#[derive(Clone, Copy)]
enum Text<'a> {
    /// A native string: one byte, one character.
    Latin1(&'a [u8]),
    /// Unicode text.
    Str(&'a str),
}

/// `repr()` of a native string.
fn latin1(bytes: &[u8]) -> Repr<'_> {
    Repr(Text::Latin1(bytes))
}

/// `repr()` of a `str`.
fn text(s: &str) -> Repr<'_> {
    Repr(Text::Str(s))
}

/// Python's `repr()` of a `str`.
#[derive(Clone, Copy)]
struct Repr<'a>(Text<'a>);

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Text::Latin1(bytes) => write_repr(f, bytes.iter().map(|&b| char::from(b))),
            Text::Str(s) => write_repr(f, s.chars()),
        }
    }
}

fn write_repr(
    f: &mut fmt::Formatter<'_>,
    chars: impl Iterator<Item = char> + Clone,
) -> fmt::Result {
    let (single, double) = chars
        .clone()
        .fold((false, false), |(s, d), c| (s || c == '\'', d || c == '"'));
    let quote = if single && !double { '"' } else { '\'' };
    f.write_char(quote)?;
    for c in chars {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\t' => f.write_str("\\t")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if is_printable(c) => f.write_char(c)?,
            c => {
                let n = u32::from(c);
                if n <= 0xff {
                    write!(f, "\\x{n:02x}")?;
                } else if n <= 0xffff {
                    write!(f, "\\u{n:04x}")?;
                } else {
                    write!(f, "\\U{n:08x}")?;
                }
            }
        }
    }
    f.write_char(quote)
}

/// Python's `str.isprintable()` for one character: exact up to U+00FF, approximated beyond
/// (controls, separators, common format characters, private use and noncharacters).
fn is_printable(c: char) -> bool {
    let n = u32::from(c);
    match n {
        0x20..=0x7e | 0xa1..=0xac | 0xae..=0xff => true,
        0..=0xff => false,
        _ => {
            !(c.is_control()
                || c.is_whitespace()
                || matches!(
                    n,
                    0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xe000..=0xf8ff | 0xfeff
                        | 0xfff9..=0xfffb | 0xf0000..
                )
                || n & 0xfffe == 0xfffe)
        }
    }
}

/// `repr()` of an environ value.
#[derive(Clone, Copy)]
struct ValueRepr<'a>(Value<'a>);

impl fmt::Display for ValueRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Str(s) => latin1(s).fmt(f),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Version(major, minor) => write!(f, "({major}, {minor})"),
        }
    }
}

/// `repr(type(value))` of an environ value.
#[derive(Clone, Copy)]
struct TypeRepr<'a>(Value<'a>);

impl fmt::Display for TypeRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Value::Str(_) => "<class 'str'>",
            Value::Bool(_) => "<class 'bool'>",
            Value::Version(..) => "<class 'tuple'>",
        })
    }
}

/// `str()` of a header list: `[('Name', 'value'), ...]`.
#[derive(Clone, Copy)]
struct HeadersRepr<'a>(ResponseHeaders<'a>);

impl fmt::Display for HeadersRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "({}, {})", text(name), latin1(value))?;
        }
        f.write_char(']')
    }
}
