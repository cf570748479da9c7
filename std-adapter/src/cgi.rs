//! The CGI gateways of `wsgiref.handlers`: [`SimpleHandler`], [`BaseCgiHandler`],
//! [`CgiHandler`], [`IisCgiHandler`] and [`read_environ`], driving the core's
//! [`run`] over std streams.
//!
//! A CGI script is one request per process: the web server passes the request in the
//! environment and on stdin and reads the response from stdout. Running an application as
//! one is a single call:
//!
//! ```no_run
//! use wsgiref::app::{AppError, Bytes, Request, StartResponse};
//! use wsgiref_std::cgi::CgiHandler;
//!
//! fn hello(_: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
//!     -> Result<Bytes<&'static [u8]>, AppError>
//! {
//!     start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
//!     Ok(Bytes::new(b"Hello World"))
//! }
//!
//! fn main() {
//!     CgiHandler::new().run(&hello);
//! }
//! ```
//!
//! The handlers mirror CPython's classes, each a thin layer over the previous one (reached
//! through `Deref`, so every setting of [`SimpleHandler`] can be changed on all of them):
//!
//! | CPython | here | output | `multithread`, `multiprocess`, `run_once` |
//! |---|---|---|---|
//! | `SimpleHandler(stdin, stdout, stderr, environ)` | [`SimpleHandler::new`] | `HTTP/1.0 200 OK`, `Date`, `Server` | true, false, false |
//! | `BaseCGIHandler(stdin, stdout, stderr, environ)` | [`BaseCgiHandler::new`] | `Status: 200 OK` | true, false, false |
//! | `CGIHandler()` | [`CgiHandler::new`] | `Status: 200 OK` | false, true, true |
//! | `IISCGIHandler()` | [`IisCgiHandler::new`] | `Status: 200 OK` | false, true, true |
//!
//! Decisions, where CPython leaves a choice or has a known wart:
//!
//! * **No process environment leaks in.** CPython's `BaseHandler.os_environ` is the process
//!   environment read at import time and is merged under every request's environ of a
//!   `SimpleHandler` or `BaseCGIHandler` (only `CGIHandler` empties it, bpo-7250). Here
//!   [`SimpleHandler::os_environ`] is empty by default for every handler; set it to
//!   [`read_environ()`] to get CPython's behaviour.
//! * **`wsgi.input` is bounded by `CONTENT_LENGTH`** (PEP 3333; CPython hands out the raw
//!   stdin, gh-66077): reading past it is the end of input. An absent, empty or malformed
//!   `CONTENT_LENGTH` means no body. A body cut short is a `400`-class input error.
//! * **Errors are logged as one line**, `Kind: message` (the last line of CPython's
//!   traceback), to the handler's `stderr`. A panicking application is caught, answered like
//!   an application error (the error output before the head is sent, the end of the output
//!   after) and logged as `application panicked: message`.
//! * The response rules are the core's (see [`wsgiref::handler`]): the head waits for the
//!   first non-empty block (PEP 3333), status and headers are always validated (no control
//!   characters, CPython 3.14), no `Content-Length` on `1xx`/`204` (gh-62299), a `HEAD`
//!   response carries no body, and a body longer than its declared `Content-Length` is
//!   refused.
//! * Memory: a handler keeps its transmit buffer (the response head, [`HEAD_CAPACITY`]);
//!   each [`SimpleHandler::run`] allocates the merged variable list and a small arena for
//!   values set while it runs. A CGI process runs one request, so this happens once.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Stderr, Stdin, Stdout, Write};
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use wsgiref::app::{AppError, Application};
use wsgiref::environ::Gateway;
use wsgiref::handler::{
    CgiIo, ErrorOutput, Io, IoError, Outcome, OutputMode, ResponseWriter, Transport,
    TransportError, run, setup_environ,
};
use wsgiref::{Environ, Version};

use crate::transport::StreamTransport;

/// Default size of a handler's transmit buffer: the largest response head (status line and
/// headers) it can send. The error output needs about 120 bytes of it.
pub const HEAD_CAPACITY: usize = 16 * 1024;

/// Default size of the arena for environ values set while a request runs (the `wsgi.*`
/// flags, `SERVER_SOFTWARE`, whatever the application or its middleware sets).
pub const ARENA_CAPACITY: usize = 4 * 1024;

/// A set of CGI variables owned by the process: names and byte values (PEP 3333 native
/// strings, one byte per character), in insertion order, each name once.
///
/// It is the `environ` dictionary a handler is constructed with. [`CgiEnviron::pairs`]
/// lends it in the form [`Environ::from_pairs`] takes.
///
/// ```
/// use wsgiref_std::cgi::CgiEnviron;
///
/// let mut env: CgiEnviron = [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/a")].into_iter().collect();
/// env.set("PATH_INFO", "/b");
/// env.set("QUERY_STRING", "x=1");
/// assert_eq!(env.get("PATH_INFO"), Some(&b"/b"[..]));
/// assert_eq!(env.pairs()[2], ("QUERY_STRING", &b"x=1"[..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgiEnviron {
    vars: Vec<(String, Vec<u8>)>,
}

impl CgiEnviron {
    /// No variables.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets `key` (in place if it exists, else at the end).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((key, value)),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Vec<u8>> {
        let at = self.vars.iter().position(|(k, _)| k == key)?;
        Some(self.vars.remove(at).1)
    }

    /// Is `key` set?
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The number of variables.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Are there no variables?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The variables in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The variables as borrowed pairs, for [`Environ::from_pairs`].
    #[must_use]
    pub fn pairs(&self) -> Vec<(&str, &[u8])> {
        self.iter().collect()
    }

    /// `self` updated by `over` (`environ = copy(os_environ); environ.update(base_env)`):
    /// the keys of `self` in order, with `over`'s value where it has the key, then the keys
    /// only `over` has.
    #[must_use]
    pub fn merged<'a>(&'a self, over: &'a Self) -> Vec<(&'a str, &'a [u8])> {
        let mut out: Vec<(&str, &[u8])> = self
            .iter()
            .map(|(k, v)| (k, over.get(k).unwrap_or(v)))
            .collect();
        out.extend(over.iter().filter(|(k, _)| !self.contains(k)));
        out
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> FromIterator<(K, V)> for CgiEnviron {
    /// Later values of a repeated key replace earlier ones.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut env = Self::new();
        env.extend(iter);
        env
    }
}

impl<K: Into<String>, V: Into<Vec<u8>>> Extend<(K, V)> for CgiEnviron {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        iter.into_iter().for_each(|(k, v)| self.set(k, v));
    }
}

/// Does `read_environ` recover the original bytes of `key`'s value (§3.2)? True for the
/// request variables `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING`, `REQUEST_METHOD`,
/// `AUTH_TYPE`, `CONTENT_TYPE`, `CONTENT_LENGTH`, `HTTPS`, `REMOTE_USER`, `REMOTE_IDENT`,
/// any `HTTP_*` or `SSL_*` name, and `REDIRECT_` followed by such a name (recursively).
///
/// ```
/// use wsgiref_std::cgi::needs_transcoding;
///
/// assert!(needs_transcoding("PATH_INFO"));
/// assert!(needs_transcoding("HTTP_ACCEPT"));
/// assert!(needs_transcoding("REDIRECT_REDIRECT_PATH_INFO"));
/// assert!(!needs_transcoding("REDIRECT_FOO"));
/// assert!(!needs_transcoding("PATH"));
/// ```
#[must_use]
pub fn needs_transcoding(key: &str) -> bool {
    const REQUEST_KEYS: [&str; 10] = [
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "REQUEST_METHOD",
        "AUTH_TYPE",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTPS",
        "REMOTE_USER",
        "REMOTE_IDENT",
    ];
    let mut key = key;
    while let Some(rest) = key.strip_prefix("REDIRECT_") {
        key = rest;
    }
    REQUEST_KEYS.contains(&key) || key.starts_with("HTTP_") || key.starts_with("SSL_")
}

/// CPython's `read_environ` on Windows, where the environment is Unicode text: the bytes of
/// `key`'s value as a native string, chosen by the web server (`server_software`, the
/// `SERVER_SOFTWARE` variable).
///
/// For a variable that [`needs_transcoding`], by lower-cased `server_software`:
/// `microsoft-iis/…` and `simplehttp/…` with `python/3` in it: the UTF-8 bytes of the value
/// (`value.encode('utf-8').decode('latin-1')`); `apache/…`: the value unchanged; anything
/// else: the value in the filesystem encoding, which is UTF-8 on Windows (PEP 529). Other
/// variables keep the text unchanged. "Unchanged" text is its latin-1 bytes when every
/// character is at most U+00FF (exactly CPython's native string), otherwise its UTF-8 bytes
/// (CPython would hand out a string that is not a native string).
///
/// ```
/// use wsgiref_std::cgi::transcode_windows;
///
/// assert_eq!(transcode_windows("PATH_INFO", "/café", "Microsoft-IIS/10.0"), "/café".as_bytes());
/// assert_eq!(transcode_windows("PATH_INFO", "/café", "Apache/2.4"), b"/caf\xe9");
/// assert_eq!(transcode_windows("HOME", "café", "Microsoft-IIS/10.0"), b"caf\xe9");
/// ```
#[must_use]
pub fn transcode_windows(key: &str, value: &str, server_software: &str) -> Vec<u8> {
    let unchanged = || {
        value
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .unwrap_or_else(|| value.as_bytes().to_vec())
    };
    if !needs_transcoding(key) {
        return unchanged();
    }
    let software = server_software.to_lowercase();
    if software.starts_with("apache/") {
        unchanged()
    } else {
        // microsoft-iis/, simplehttp/ + python/3, and the fallback (the filesystem encoding
        // of Windows is UTF-8) all come out as the UTF-8 bytes.
        value.as_bytes().to_vec()
    }
}

/// `read_environ()`: the process environment as CGI variables (PEP 3333 native strings).
///
/// On POSIX the environment is bytes, and every value is kept as its bytes. For the request
/// variables ([`needs_transcoding`]) that is exactly CPython's result (`surrogateescape`
/// bytes re-decoded as latin-1: `PATH_INFO=/caf\xc3\xa9` gives the 6 characters `/cafÃ©`);
/// for the other variables CPython hands out the filesystem-decoded text, whose encoding
/// these bytes are. On Windows the rules of [`transcode_windows`] apply. Variables whose
/// name is not valid Unicode are skipped.
#[must_use]
pub fn read_environ() -> CgiEnviron {
    read_environ_from(std::env::vars_os())
}

/// [`read_environ`] over the given variables instead of the process environment.
pub fn read_environ_from<I: IntoIterator<Item = (OsString, OsString)>>(vars: I) -> CgiEnviron {
    let vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
    #[cfg(not(unix))]
    let software = vars
        .iter()
        .find(|(k, _)| k == "SERVER_SOFTWARE")
        .map(|(_, v)| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut env = CgiEnviron::new();
    for (key, value) in vars {
        let Ok(key) = key.into_string() else {
            continue;
        };
        #[cfg(unix)]
        let value = std::os::unix::ffi::OsStringExt::into_vec(value);
        #[cfg(not(unix))]
        let value = transcode_windows(&key, &value.to_string_lossy(), &software);
        env.set(key, value);
    }
    env
}

/// `IISCGIHandler`'s `PATH_INFO` rule: IIS (without `allowPathInfo`) repeats `SCRIPT_NAME` at
/// the front of `PATH_INFO`. If `path_info + "/"` starts with `script_name + "/"`, the
/// corrected `PATH_INFO` is `path_info` without that prefix; otherwise `None` (unchanged).
///
/// ```
/// use wsgiref_std::cgi::iis_path_info;
///
/// assert_eq!(iis_path_info(b"/app", b"/app/x"), Some(&b"/x"[..]));
/// assert_eq!(iis_path_info(b"/app", b"/app"), Some(&b""[..]));
/// assert_eq!(iis_path_info(b"/app", b"/apple"), None);
/// ```
#[must_use]
pub fn iis_path_info<'p>(script_name: &[u8], path_info: &'p [u8]) -> Option<&'p [u8]> {
    let rest = path_info.strip_prefix(script_name)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// Applies [`iis_path_info`] to `environ` (absent variables count as empty, so `PATH_INFO`
/// is created when both are absent, as CPython does).
pub fn fix_iis_path_info(environ: &mut CgiEnviron) {
    let path = environ.get("PATH_INFO").unwrap_or_default();
    let script = environ.get("SCRIPT_NAME").unwrap_or_default();
    if let Some(fixed) = iis_path_info(script, path) {
        let fixed = fixed.to_vec();
        environ.set("PATH_INFO", fixed);
    }
}

/// `SimpleHandler(stdin, stdout, stderr, environ, multithread=True, multiprocess=False)`:
/// runs an application for the request described by `base_env`, reading the body from
/// `stdin`, writing an origin-server response (`HTTP/1.0 200 OK`, `Date`, `Server`) to
/// `stdout` and errors to `stderr`.
///
/// The public fields are CPython's attributes; change them before [`SimpleHandler::run`].
///
/// ```
/// use wsgiref::app::{AppError, Bytes, Request, StartResponse};
/// use wsgiref_std::cgi::{CgiEnviron, SimpleHandler};
///
/// fn app(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>)
///     -> Result<Bytes<&'static [u8]>, AppError>
/// {
///     sr.start("200 OK", &[("Date", "Mon, 05 Jun 2006 18:49:54 GMT")])?;
///     Ok(Bytes::new(b"x"))
/// }
///
/// let environ: CgiEnviron = [("SERVER_PROTOCOL", "HTTP/1.0")].into_iter().collect();
/// let mut h = SimpleHandler::new(&b""[..], Vec::new(), Vec::new(), environ);
/// let outcome = h.run(&app);
/// assert_eq!(outcome.error, None);
/// assert_eq!(h.stdout, b"HTTP/1.0 200 OK\r\nDate: Mon, 05 Jun 2006 18:49:54 GMT\r\nContent-Length: 1\r\n\r\nx");
/// ```
#[derive(Debug)]
pub struct SimpleHandler<R, W, E> {
    /// Where the request body is read from (`wsgi.input`, bounded by `CONTENT_LENGTH`).
    pub stdin: R,
    /// Where the response is written.
    pub stdout: W,
    /// Where `wsgi.errors` text and the error log go.
    pub stderr: E,
    /// The request's variables (`base_env`), merged over [`SimpleHandler::os_environ`].
    pub base_env: CgiEnviron,
    /// Variables under every request's (`BaseHandler.os_environ`). Empty by default: no
    /// process environment leaks into the environ (set it to [`read_environ()`] for
    /// CPython's behaviour).
    pub os_environ: CgiEnviron,
    /// `wsgi.multithread`.
    pub wsgi_multithread: bool,
    /// `wsgi.multiprocess`.
    pub wsgi_multiprocess: bool,
    /// `wsgi.run_once`.
    pub wsgi_run_once: bool,
    /// `origin_server`: an HTTP status line, `Date` and `Server` (true), or a CGI
    /// `Status:` line (false).
    pub origin_server: bool,
    /// `http_version` of the status line (origin server): `HTTP/1.0` by default.
    pub http_version: Version,
    /// `server_software`: the `Server` header and the `SERVER_SOFTWARE` default of an origin
    /// server; `None` sends neither.
    pub server_software: Option<String>,
    /// `error_status`, `error_headers`, `error_body`.
    pub error_output: ErrorOutput<'static>,
    /// The time for the `Date` header (Unix seconds); `None` is the current time.
    pub unix_time: Option<u64>,
    /// The size of the arena for values set while a request runs ([`ARENA_CAPACITY`]).
    pub arena_capacity: usize,
    /// The transmit buffer: holds the response head.
    tx: Vec<u8>,
}

impl<R: Read, W: Write, E: Write> SimpleHandler<R, W, E> {
    /// A handler for the request in `environ`, with CPython's defaults (`multithread`
    /// true, `multiprocess` false, origin-server output, `HTTP/1.0`, no server software).
    pub fn new(stdin: R, stdout: W, stderr: E, environ: CgiEnviron) -> Self {
        Self {
            stdin,
            stdout,
            stderr,
            base_env: environ,
            os_environ: CgiEnviron::new(),
            wsgi_multithread: true,
            wsgi_multiprocess: false,
            wsgi_run_once: false,
            origin_server: true,
            http_version: Version::Http10,
            server_software: None,
            error_output: ErrorOutput::DEFAULT,
            unix_time: None,
            arena_capacity: ARENA_CAPACITY,
            tx: vec![0; HEAD_CAPACITY],
        }
    }

    /// Sets the size of the transmit buffer, the largest response head ([`HEAD_CAPACITY`]).
    pub fn set_head_capacity(&mut self, bytes: usize) {
        self.tx.resize(bytes, 0);
    }

    /// `run(application)`: sets up the environ, calls the application, sends its response
    /// (or the error output) and logs any error to `stderr` as `Kind: message`. A client
    /// that went away (a broken pipe) ends the run quietly.
    pub fn run<A: Application + ?Sized>(&mut self, app: &A) -> Outcome {
        let mode = if self.origin_server {
            OutputMode::Origin
        } else {
            OutputMode::Cgi
        };
        let pairs = self.os_environ.merged(&self.base_env);
        let mut arena = vec![0u8; self.arena_capacity];
        let mut environ = Environ::from_pairs(&pairs, &mut arena);
        let gateway = Gateway {
            server_software: self.server_software.as_deref().unwrap_or(""),
            multithread: self.wsgi_multithread,
            multiprocess: self.wsgi_multiprocess,
            run_once: self.wsgi_run_once,
            ..Gateway::DEFAULT
        };
        let prepared = setup_environ(&mut environ, &gateway, mode);

        let protocol = environ.get("SERVER_PROTOCOL").unwrap_or(b"HTTP/1.0");
        // `client_is_modern()`: an HTTP/0.9 client of an origin server gets the body only.
        let body_only = mode == OutputMode::Origin && protocol.eq_ignore_ascii_case(b"HTTP/0.9");
        let method = environ.get("REQUEST_METHOD").unwrap_or(b"GET");
        let mut writer = ResponseWriter::new(&mut self.tx, mode, method, protocol);
        writer.set_error_output(self.error_output);
        if mode == OutputMode::Origin {
            writer.set_server_software(gateway.server_software);
            if self.http_version == Version::Http10 {
                writer.set_http10();
            }
            let now = || {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            };
            writer.set_unix_time(self.unix_time.unwrap_or_else(now));
        }
        let content_length = content_length(environ.get("CONTENT_LENGTH"));
        let mut transport = HeadFilter {
            inner: StreamTransport {
                input: &mut self.stdin,
                output: &mut self.stdout,
            },
            skip_head: body_only,
            matched: 0,
            failed: false,
        };
        let mut io = CgiIo::new(writer, &mut transport, content_length);
        let mut errors = ErrorStream(&mut self.stderr);

        let (outcome, logged) = match prepared {
            Ok(()) => match catch_unwind(AssertUnwindSafe(|| {
                run(app, &mut environ, &mut errors, &mut io)
            })) {
                Ok(outcome) => (outcome, false),
                Err(panic) => {
                    let message = crate::server::panic_message(&*panic);
                    let _ = writeln!(errors.0, "application panicked: {message}");
                    (failed(&mut io, PANICKED), true)
                }
            },
            Err(e) => (failed(&mut io, AppError::from(e)), false),
        };
        if let Some(error) = outcome.error.filter(|_| !logged) {
            let _ = writeln!(errors.0, "{error}");
        }
        // CPython is quiet only for a broken pipe, a reset or an abort.
        if outcome.disconnected && transport.failed {
            let _ = writeln!(errors.0, "OSError: writing the response failed");
        }
        let _ = errors.0.flush();
        outcome
    }
}

/// The error of a run whose application panicked (logged as `application panicked: …`).
const PANICKED: AppError = AppError::with_kind("Panic", "the application panicked");

/// Ends a request that could not run normally with the error output (or nothing more, if
/// the head is out).
fn failed(io: &mut dyn Io, error: AppError) -> Outcome {
    let disconnected = matches!(io.fail(500), Err(IoError::Transport(_)));
    let (status, body_sent) = io.progress();
    Outcome {
        status,
        body_sent,
        error: Some(error),
        disconnected,
    }
}

/// `CONTENT_LENGTH` as a byte count: absent, empty or malformed is 0.
fn content_length(value: Option<&[u8]>) -> u64 {
    let digits = value.unwrap_or_default();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return 0;
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `wsgi.errors` (text) over the handler's byte stream.
struct ErrorStream<'a, E: ?Sized>(&'a mut E);

impl<E: Write + ?Sized> fmt::Write for ErrorStream<'_, E> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// The transport, dropping everything up to the end of the response head when the client
/// is HTTP/0.9 (CPython's `send_headers` writes nothing then; the body still goes out).
struct HeadFilter<T> {
    inner: T,
    skip_head: bool,
    /// How much of `\r\n\r\n` has been seen while skipping.
    matched: usize,
    /// Writing the output failed otherwise than by the other end going away (a full disk,
    /// an I/O error): the core ends the request as for a client gone, but it is logged.
    failed: bool,
}

impl<T: Transport> Transport for HeadFilter<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
        self.inner.read(buf)
    }

    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        let sent = self.send_filtered(pieces);
        self.failed |= sent == Err(TransportError::Failed);
        sent
    }
}

impl<T: Transport> HeadFilter<T> {
    fn send_filtered(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
        if !self.skip_head {
            return self.inner.send(pieces);
        }
        let mut rest: Vec<&[u8]> = Vec::with_capacity(pieces.len());
        for (i, piece) in pieces.iter().enumerate() {
            let Some(end) = piece.iter().position(|&b| {
                let want = b"\r\n\r\n"[self.matched];
                self.matched = if b == want {
                    self.matched + 1
                } else {
                    usize::from(b == b'\r')
                };
                self.matched == 4
            }) else {
                continue;
            };
            self.skip_head = false;
            rest.push(&piece[end + 1..]);
            rest.extend_from_slice(&pieces[i + 1..]);
            break;
        }
        self.inner.send(&rest)
    }
}

/// `BaseCGIHandler(stdin, stdout, stderr, environ, multithread=True, multiprocess=False)`:
/// a [`SimpleHandler`] that writes CGI output (`Status: 200 OK`, no `Date` or `Server`).
///
/// ```
/// use wsgiref::app::{AppError, Bytes, Request, StartResponse};
/// use wsgiref_std::cgi::{BaseCgiHandler, CgiEnviron};
///
/// fn app(_: &mut Request<'_, '_>, sr: &mut StartResponse<'_>)
///     -> Result<Bytes<&'static [u8]>, AppError>
/// {
///     sr.start("200 OK", &[])?;
///     Ok(Bytes::new(b"http"))
/// }
///
/// let mut h = BaseCgiHandler::new(&b""[..], Vec::new(), Vec::new(), CgiEnviron::new());
/// let _ = h.run(&app);
/// assert_eq!(h.stdout, b"Status: 200 OK\r\nContent-Length: 4\r\n\r\nhttp");
/// ```
#[derive(Debug)]
pub struct BaseCgiHandler<R, W, E>(SimpleHandler<R, W, E>);

impl<R: Read, W: Write, E: Write> BaseCgiHandler<R, W, E> {
    /// A CGI handler for the request in `environ` (`multithread` true, `multiprocess`
    /// false).
    pub fn new(stdin: R, stdout: W, stderr: E, environ: CgiEnviron) -> Self {
        let mut inner = SimpleHandler::new(stdin, stdout, stderr, environ);
        inner.origin_server = false;
        Self(inner)
    }

    /// [`SimpleHandler::run`].
    pub fn run<A: Application + ?Sized>(&mut self, app: &A) -> Outcome {
        self.0.run(app)
    }

    /// The handler with its streams.
    #[must_use]
    pub fn into_inner(self) -> SimpleHandler<R, W, E> {
        self.0
    }
}

impl<R, W, E> Deref for BaseCgiHandler<R, W, E> {
    type Target = SimpleHandler<R, W, E>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<R, W, E> DerefMut for BaseCgiHandler<R, W, E> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `CGIHandler()`: runs an application as a CGI script, over the process's stdin, stdout
/// and stderr and the request in its environment ([`read_environ`]), with
/// `wsgi.run_once` true, `wsgi.multithread` false and `wsgi.multiprocess` true.
#[derive(Debug)]
pub struct CgiHandler(BaseCgiHandler<Stdin, Stdout, Stderr>);

impl CgiHandler {
    /// The handler for this process's request.
    #[must_use]
    pub fn new() -> Self {
        Self::with_environ(read_environ())
    }

    /// The handler for the request in `environ` (instead of the process environment), still
    /// over the process's streams.
    #[must_use]
    pub fn with_environ(environ: CgiEnviron) -> Self {
        let mut inner = BaseCgiHandler::new(io::stdin(), io::stdout(), io::stderr(), environ);
        inner.wsgi_run_once = true;
        inner.wsgi_multithread = false;
        inner.wsgi_multiprocess = true;
        Self(inner)
    }

    /// [`SimpleHandler::run`].
    pub fn run<A: Application + ?Sized>(&mut self, app: &A) -> Outcome {
        self.0.run(app)
    }
}

impl Default for CgiHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for CgiHandler {
    type Target = BaseCgiHandler<Stdin, Stdout, Stderr>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for CgiHandler {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `IISCGIHandler()`: a [`CgiHandler`] for IIS without `allowPathInfo`, which removes the
/// `SCRIPT_NAME` that IIS repeats at the front of `PATH_INFO` ([`iis_path_info`]).
#[derive(Debug)]
pub struct IisCgiHandler(CgiHandler);

impl IisCgiHandler {
    /// The handler for this process's request.
    #[must_use]
    pub fn new() -> Self {
        Self::with_environ(read_environ())
    }

    /// The handler for the request in `environ`, with its `PATH_INFO` corrected.
    #[must_use]
    pub fn with_environ(mut environ: CgiEnviron) -> Self {
        fix_iis_path_info(&mut environ);
        Self(CgiHandler::with_environ(environ))
    }

    /// [`SimpleHandler::run`].
    pub fn run<A: Application + ?Sized>(&mut self, app: &A) -> Outcome {
        self.0.run(app)
    }
}

impl Default for IisCgiHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for IisCgiHandler {
    type Target = CgiHandler;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for IisCgiHandler {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Runs `app` as this process's CGI request ([`CgiHandler`], or [`IisCgiHandler`] with
/// `iis`) and returns the exit status: success when the application completed its response
/// (or the client went away), failure when it raised an error (already logged to stderr and,
/// if the head was not sent, answered with the error output). This is what the `wsgiref cgi`
/// command calls.
pub fn run_cgi<A: Application + ?Sized>(app: &A, iis: bool) -> ExitCode {
    let outcome = if iis {
        IisCgiHandler::new().run(app)
    } else {
        CgiHandler::new().run(app)
    };
    if outcome.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
