//! `wsgiref.simple_server.demo_app`: the "Hello world!" page that lists the environ; and
//! the two other applications every gateway here serves unchanged: the seed's [`hello`]
//! world and [`echo`], which answers with what it was sent.
//!
//! The page is CPython's, byte for byte: status `200 OK`, `Content-Type: text/plain;
//! charset=utf-8`, and a UTF-8 body of `"Hello world!\n\n"` followed by one line
//! `KEY = repr(value)\n` per environ variable, sorted by key (byte order of the names, which
//! is Python's code-point order, so `wsgi.*` comes last). Values are shown as Python 3's
//! `repr` shows them ([`repr`]).
//!
//! ## Without a heap
//!
//! CPython renders the page into one string and returns it as a one-element list, so the
//! gateway infers `Content-Length`. Here the page is never held whole:
//!
//! * [`demo_app`] first measures the page (one pass rendering every line into a counter)
//!   and declares `Content-Length` itself, after `Content-Type`: the same head CPython
//!   sends (where the inferred length is appended after the application's headers).
//! * The returned [`DemoBody`] renders the page into a fixed buffer of `N` bytes (256 by
//!   default) as the gateway pulls it: each block holds as many lines as fit, and a line
//!   longer than the buffer continues in the next block. The keys are visited in sorted
//!   order without sorting anything: each line's key is the smallest key greater than the
//!   previous line's (a few dozen keys make this O(n²) walk cheap). Duplicate keys (only
//!   possible with [`Environ::from_pairs`]) are shown once, with the first value, as
//!   [`Environ::get`] sees them.
//!
//! The body reads the environ on every pull, so it must not change while the body
//! streams: the declared length would no longer match (the gateway then closes the
//! connection).
//!
//! Keys are written as they are (UTF-8 text), values through [`repr`].
//!
//! Unlike CPython's page there are no `wsgi.input`, `wsgi.errors` and `wsgi.file_wrapper`
//! lines: this environ holds no objects, only strings, flags and the version. And where
//! CPython sends the body even to `HEAD`, the gateway here sends none (the head is the
//! same).
//!
//! ```
//! use wsgiref::demo::demo_app;
//! use wsgiref::app::Application;
//!
//! // A plain function, so it is an application as it is.
//! fn takes_app(_: &impl Application) {}
//! takes_app(&demo_app);
//! ```

use core::fmt;

use crate::app::{AppError, Body, Bytes, Request, StartResponse, Stream};
use crate::environ::{Environ, Key, Value};

/// The first line of the page and the blank line after it.
const PRELUDE: &[u8] = b"Hello world!\n\n";

/// The `Content-Type` of the page.
const CONTENT_TYPE: &[u8] = b"text/plain; charset=utf-8";

/// Python 3's `repr()` of an environ value, as [`fmt::Display`].
///
/// * [`Value::Str`] is a native string (one byte, one character, latin-1), shown as
///   `repr(str)`: in single quotes, or in double quotes if it contains `'` and no `"`;
///   `\\`, the quote in use, `\t`, `\n` and `\r` escaped with a backslash; the other
///   characters Python does not consider printable (U+0000–U+001F, U+007F–U+00A0, U+00AD)
///   as `\xNN` in lower-case hex; every other character as itself (so `é` comes out as
///   UTF-8 text).
/// * [`Value::Bool`] is `True` or `False`.
/// * [`Value::Version`] is a tuple, `(1, 0)`.
///
/// ```
/// use wsgiref::demo::repr;
/// use wsgiref::Value;
///
/// assert_eq!(repr(Value::Str(b"/a b")).to_string(), "'/a b'");
/// assert_eq!(repr(Value::Str(b"it's")).to_string(), r#""it's""#);
/// assert_eq!(repr(Value::Str(b"'\"")).to_string(), r#"'\'"'"#);
/// assert_eq!(repr(Value::Str(b"a\\b\t\x00\x7f\xa0\xad\xe9")).to_string(), r"'a\\b\t\x00\x7f\xa0\xadé'");
/// assert_eq!(repr(Value::Bool(false)).to_string(), "False");
/// assert_eq!(repr(Value::Version(1, 0)).to_string(), "(1, 0)");
/// ```
#[must_use]
pub const fn repr(value: Value<'_>) -> Repr<'_> {
    Repr(value)
}

/// The `repr()` of an environ value, made by [`repr`]; write it with `{}`.
///
/// ```
/// use wsgiref::demo::{Repr, repr};
/// use wsgiref::Value;
///
/// let r: Repr<'_> = repr(Value::Bool(true));
/// assert_eq!(format!("wsgi.run_once = {r}"), "wsgi.run_once = True");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a>(Value<'a>);

impl fmt::Display for Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Str(s) => repr_latin1(s, f),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Version(major, minor) => write!(f, "({major}, {minor})"),
        }
    }
}

/// `repr(s.decode("latin-1"))`.
fn repr_latin1(s: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    let quote = if s.contains(&b'\'') && !s.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    f.write_char(char::from(quote))?;
    for &b in s {
        match b {
            b'\\' => f.write_str("\\\\")?,
            b'\t' => f.write_str("\\t")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            _ if b == quote => {
                f.write_char('\\')?;
                f.write_char(char::from(quote))?;
            }
            // Printable per Python's str.isprintable: ASCII graphic and space, and the
            // latin-1 letters and symbols except SOFT HYPHEN.
            0x20..=0x7e | 0xa1..=0xac | 0xae..=0xff => f.write_char(char::from(b))?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_char(char::from(quote))
}

/// Where rendered bytes go: a counter, or a window of the page.
trait Sink: fmt::Write {
    fn put(&mut self, bytes: &[u8]);
}

/// Counts the bytes of the page.
struct Counter(u64);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Copies the bytes of one segment (the prelude or a line) into a buffer, after skipping
/// the `skip` bytes already sent, until the buffer is full.
struct Window<'a> {
    buf: &'a mut [u8],
    len: usize,
    skip: usize,
    /// Bytes of the current segment copied into the buffer.
    copied: usize,
    /// Some bytes of the current segment did not fit.
    full: bool,
}

impl Window<'_> {
    fn begin(&mut self, skip: usize) {
        self.skip = skip;
        self.copied = 0;
        self.full = false;
    }

    fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }
}

impl Sink for Window<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        let rest = bytes.get(skipped..).unwrap_or(&[]);
        let n = self.room().min(rest.len());
        if let (Some(out), Some(src)) = (self.buf.get_mut(self.len..self.len + n), rest.get(..n)) {
            out.copy_from_slice(src);
            self.len += n;
            self.copied += n;
        }
        self.full |= n < rest.len();
    }
}

impl fmt::Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

/// Renders `KEY = repr(value)\n`. The key is written as its bytes: UTF-8 text.
fn render_line(key: &Key<'_>, value: Value<'_>, out: &mut impl Sink) {
    for b in key.bytes() {
        out.put(&[b]);
    }
    out.put(b" = ");
    // The sinks never fail.
    let _ = write!(out, "{}", Repr(value));
    out.put(b"\n");
}

/// The position (in [`Environ::iter`] order) of the entry with the smallest key greater
/// than the key at `after` (the smallest key of all if `after` is `None`). Of equal keys,
/// the first.
fn next_entry(env: &Environ<'_>, after: Option<usize>) -> Option<usize> {
    let last = match after {
        Some(i) => Some(env.iter().nth(i)?.0),
        None => None,
    };
    let mut best: Option<(usize, Key<'_>)> = None;
    for (i, (key, _)) in env.iter().enumerate() {
        if last.as_ref().is_some_and(|last| key <= *last) {
            continue;
        }
        if best.as_ref().is_none_or(|(_, b)| key < *b) {
            best = Some((i, key));
        }
    }
    best.map(|(i, _)| i)
}

/// Renders the line of the entry at position `i`; false if there is none.
fn render_entry(env: &Environ<'_>, i: usize, out: &mut impl Sink) -> bool {
    match env.iter().nth(i) {
        Some((key, value)) => {
            render_line(&key, value, out);
            true
        }
        None => false,
    }
}

/// The length in bytes of the whole page for `env`.
fn page_length(env: &Environ<'_>) -> u64 {
    let mut counter = Counter(0);
    counter.put(PRELUDE);
    let mut at = next_entry(env, None);
    while let Some(i) = at {
        render_entry(env, i, &mut counter);
        at = next_entry(env, Some(i));
    }
    counter.0
}

/// Which segment of the page comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    /// `Hello world!\n\n`.
    Prelude,
    /// The line of the entry at this position of [`Environ::iter`].
    Entry(usize),
    /// Nothing more.
    Done,
}

/// The body of [`demo_app`]: the page, rendered `N` bytes at a time into an internal
/// buffer as the gateway pulls it (see the [module docs](self)).
///
/// ```
/// use wsgiref::app::{Body, NoInput, Request};
/// use wsgiref::demo::DemoBody;
/// use wsgiref::Environ;
///
/// let pairs: &[(&str, &[u8])] = &[("PATH_INFO", b"/x"), ("HTTP_HOST", b"a")];
/// let mut arena = [0u8; 0];
/// let mut env = Environ::from_pairs(pairs, &mut arena);
/// let body: DemoBody<8> = DemoBody::new(&env);
/// assert_eq!(body.len(), 47);
///
/// let (mut input, mut errors) = (NoInput, String::new());
/// let mut req = Request { environ: &mut env, input: &mut input, errors: &mut errors };
/// let mut body = body;
/// let mut page = Vec::new();
/// while let Some(block) = body.next_block(&mut req) {
///     let block = block.unwrap();
///     assert!(block.len() <= 8);
///     page.extend_from_slice(block);
/// }
/// assert_eq!(page, b"Hello world!\n\nHTTP_HOST = 'a'\nPATH_INFO = '/x'\n");
/// ```
pub struct DemoBody<const N: usize = 256> {
    buf: [u8; N],
    at: Position,
    /// Bytes of the segment at `at` already sent.
    offset: usize,
    len: u64,
}

impl<const N: usize> fmt::Debug for DemoBody<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoBody")
            .field("block", &N)
            .field("at", &self.at)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<const N: usize> DemoBody<N> {
    /// The page for `env`, measured now, rendered as it is pulled. [`demo_app`] calls this
    /// and declares the length; call it directly to serve the page from another
    /// application.
    ///
    /// ```
    /// use wsgiref::demo::DemoBody;
    /// use wsgiref::Environ;
    ///
    /// let pairs: &[(&str, &[u8])] = &[("QUERY_STRING", b"")];
    /// let mut arena = [0u8; 0];
    /// let env = Environ::from_pairs(pairs, &mut arena);
    /// let body: DemoBody = DemoBody::new(&env);
    /// assert_eq!(body.len(), ("Hello world!\n\n".len() + "QUERY_STRING = ''\n".len()) as u64);
    /// ```
    #[must_use]
    pub fn new(env: &Environ<'_>) -> Self {
        Self {
            buf: [0; N],
            at: Position::Prelude,
            offset: 0,
            len: page_length(env),
        }
    }

    /// The length of the whole page in bytes (the declared `Content-Length`).
    ///
    /// ```
    /// use wsgiref::demo::DemoBody;
    /// use wsgiref::Environ;
    ///
    /// let mut arena = [0u8; 0];
    /// let env = Environ::from_pairs(&[], &mut arena);
    /// assert_eq!(DemoBody::<16>::new(&env).len(), "Hello world!\n\n".len() as u64);
    /// ```
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Is the page empty? Never: it always says hello.
    ///
    /// ```
    /// use wsgiref::demo::DemoBody;
    /// use wsgiref::Environ;
    ///
    /// let mut arena = [0u8; 0];
    /// let env = Environ::from_pairs(&[], &mut arena);
    /// assert!(!DemoBody::<16>::new(&env).is_empty());
    /// ```
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The position after the segment at `at`.
    fn advance(env: &Environ<'_>, at: Position) -> Position {
        let next = match at {
            Position::Prelude => next_entry(env, None),
            Position::Entry(i) => next_entry(env, Some(i)),
            Position::Done => None,
        };
        next.map_or(Position::Done, Position::Entry)
    }
}

impl<const N: usize> Body for DemoBody<N> {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        if N == 0 && self.at != Position::Done {
            self.at = Position::Done;
            return Some(Err(AppError::new(
                "DemoBody needs a buffer of at least one byte",
            )));
        }
        let env: &Environ<'_> = req.environ;
        let mut window = Window {
            buf: &mut self.buf,
            len: 0,
            skip: 0,
            copied: 0,
            full: false,
        };
        while window.room() > 0 {
            window.begin(self.offset);
            let rendered = match self.at {
                Position::Done => break,
                Position::Prelude => {
                    window.put(PRELUDE);
                    true
                }
                Position::Entry(i) => render_entry(env, i, &mut window),
            };
            if !rendered {
                // The environ changed under the body: stop here.
                self.at = Position::Done;
                break;
            }
            if window.full {
                self.offset += window.copied;
                break;
            }
            self.offset = 0;
            self.at = Self::advance(env, self.at);
        }
        let len = window.len;
        if len == 0 {
            return None;
        }
        Some(Ok(self.buf.get(..len).unwrap_or(&[])))
    }
}

/// `wsgiref.simple_server.demo_app`: answers `200 OK` with the page listing the environ
/// (see the [module docs](self)), in blocks of up to 256 bytes, with its `Content-Length`.
///
/// # Errors
/// Only what `start_response` refuses (it was already called).
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::app::Application;
/// use wsgiref::demo::demo_app;
/// use wsgiref::handler::{CgiIo, ResponseWriter, Transport, TransportError, run};
/// use wsgiref::OutputMode;
///
/// /// Collects what is sent.
/// struct Out(Vec<u8>);
/// impl Transport for Out {
///     fn read(&mut self, _: &mut [u8]) -> Result<usize, TransportError> { Ok(0) }
///     fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
///         pieces.iter().for_each(|p| self.0.extend_from_slice(p));
///         Ok(())
///     }
/// }
///
/// let pairs: &[(&str, &[u8])] = &[("REQUEST_METHOD", b"GET"), ("PATH_INFO", b"/caf\xe9")];
/// let mut arena = [0u8; 64];
/// let mut env = Environ::from_pairs(pairs, &mut arena);
/// let (mut tx, mut out, mut errors) = ([0u8; 256], Out(Vec::new()), String::new());
/// let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"GET", b"HTTP/1.1");
/// let mut io = CgiIo::new(writer, &mut out, 0);
/// let outcome = run(&demo_app, &mut env, &mut errors, &mut io);
/// assert_eq!(outcome.error, None);
/// assert_eq!(
///     String::from_utf8(out.0).unwrap(),
///     "Status: 200 OK\r\n\
///      Content-Type: text/plain; charset=utf-8\r\n\
///      Content-Length: 58\r\n\
///      \r\n\
///      Hello world!\n\n\
///      PATH_INFO = '/café'\n\
///      REQUEST_METHOD = 'GET'\n"
/// );
/// ```
pub fn demo_app(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<DemoBody, AppError> {
    demo_app_with(req, start_response)
}

/// [`demo_app`] with a buffer of `N` bytes: the page goes out in blocks of at most `N`
/// bytes. Use it as an application as `demo_app_with::<N>`. With `N = 0` the body fails
/// on its first pull (no progress is possible), which the gateway answers with a 500.
///
/// # Errors
/// Only what `start_response` refuses (it was already called).
///
/// ```
/// use wsgiref::app::Application;
/// use wsgiref::demo::demo_app_with;
///
/// fn takes_app(_: &impl Application) {}
/// takes_app(&demo_app_with::<64>);
/// ```
pub fn demo_app_with<const N: usize>(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<DemoBody<N>, AppError> {
    let body = DemoBody::new(req.environ);
    let mut digits = [0u8; 20];
    let length = crate::write::format_radix(body.len(), 10, &mut digits);
    start_response.start_bytes(
        "200 OK",
        &[("Content-Type", CONTENT_TYPE), ("Content-Length", length)],
    )?;
    Ok(body)
}

/// The seed's hello world: `200 OK`, `Content-type: text/plain; charset=utf-8`, `Hello World`.
///
/// # Errors
/// Only what `start_response` refuses.
///
/// ```
/// use wsgiref::app::Application;
/// use wsgiref::demo::hello;
///
/// fn takes_app(_: &impl Application) {}
/// takes_app(&hello);
/// ```
pub fn hello(
    _req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
    Ok(Bytes::new(b"Hello World"))
}

/// The block size of [`EchoBody`]: the most bytes of `wsgi.input` read per block.
pub const ECHO_BLOCK: usize = 8192;

/// Room for the percent-encoded header values of one [`echo`] response (only values that
/// need encoding use it; see [`header_value`]).
pub const ECHO_HEADER_ROOM: usize = 1024;

/// How [`EchoBody`] fills a block: reads of `wsgi.input` until the block is full or the
/// body ends (Python's `wsgi.input.read(n)`).
pub type EchoFill = fn(&mut Request<'_, '_>, &mut [u8]) -> Result<usize, AppError>;

/// The body of [`echo`]: `wsgi.input`, read block by block (`N` bytes a block, the last one
/// shorter) as the gateway pulls, never buffered whole. A body that fits in one block is
/// read to its end before anything is sent, so a malformed one (a bad chunk anywhere in
/// it) is answered with its error status rather than cut short after a `200`.
pub type EchoBody<const N: usize = ECHO_BLOCK> = Stream<EchoFill, N>;

/// An application for testing gateways: `200 OK`, `Content-Type: application/octet-stream`,
/// the request body as read through `wsgi.input` streamed back (block by block, see
/// [`EchoBody`]), and what the application saw of the request in headers:
///
/// | header | environ |
/// |---|---|
/// | `X-Method` | `REQUEST_METHOD` |
/// | `X-Path` | `PATH_INFO` (percent-decoded by the gateway) |
/// | `X-Query` | `QUERY_STRING` |
/// | `X-Content-Length` | `CONTENT_LENGTH`, empty if absent |
///
/// A value that cannot be sent as a header value as it is goes through [`header_value`];
/// the encoded values share [`ECHO_HEADER_ROOM`] bytes of stack, and values too long to
/// encode there are an application error (a 500). The response has no `Content-Length`: it
/// is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). Blocks are [`ECHO_BLOCK`]
/// bytes; [`echo_with`] takes another size (a small one for firmware).
///
/// # Errors
/// What `start_response` refuses; values too long to encode; reading `wsgi.input` failed
/// (a body too large, cut short, timed out), from the body.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::demo::echo;
/// use wsgiref::handler::{CgiIo, ResponseWriter, Transport, TransportError, run};
/// use wsgiref::OutputMode;
///
/// /// Gives `input`, collects what is sent.
/// struct Pipe(&'static [u8], Vec<u8>);
/// impl Transport for Pipe {
///     fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError> {
///         let n = buf.len().min(self.0.len());
///         buf[..n].copy_from_slice(&self.0[..n]);
///         self.0 = &self.0[n..];
///         Ok(n)
///     }
///     fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError> {
///         pieces.iter().for_each(|p| self.1.extend_from_slice(p));
///         Ok(())
///     }
/// }
///
/// let pairs: &[(&str, &[u8])] = &[
///     ("REQUEST_METHOD", b"POST"),
///     ("PATH_INFO", b"/a\r\nb"),
///     ("CONTENT_LENGTH", b"5"),
/// ];
/// let mut arena = [0u8; 64];
/// let mut env = Environ::from_pairs(pairs, &mut arena);
/// let (mut tx, mut pipe, mut errors) = ([0u8; 256], Pipe(b"hello", Vec::new()), String::new());
/// let writer = ResponseWriter::new(&mut tx, OutputMode::Cgi, b"POST", b"HTTP/1.1");
/// let mut io = CgiIo::new(writer, &mut pipe, 5);
/// let outcome = run(&echo, &mut env, &mut errors, &mut io);
/// assert_eq!(outcome.error, None);
/// assert_eq!(
///     String::from_utf8(pipe.1).unwrap(),
///     "Status: 200 OK\r\n\
///      Content-Type: application/octet-stream\r\n\
///      X-Method: POST\r\n\
///      X-Path: /a%0D%0Ab\r\n\
///      X-Query: \r\n\
///      X-Content-Length: 5\r\n\
///      \r\n\
///      hello"
/// );
/// ```
pub fn echo(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<EchoBody, AppError> {
    echo_with(req, start_response)
}

/// [`echo`] reading `wsgi.input` in blocks of at most `N` bytes. Use it as an application
/// as `echo_with::<N>`.
///
/// # Errors
/// As [`echo`].
///
/// ```
/// use wsgiref::app::Application;
/// use wsgiref::demo::echo_with;
///
/// fn takes_app(_: &impl Application) {}
/// takes_app(&echo_with::<256>);
/// ```
pub fn echo_with<const N: usize>(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<EchoBody<N>, AppError> {
    let env = &*req.environ;
    let mut room = [0u8; ECHO_HEADER_ROOM];
    let too_long = || AppError::new("echo: a request value is too long to send as a header");
    let mut rest: &mut [u8] = &mut room;
    let mut values: [&[u8]; 4] = [b""; 4];
    let keys = [
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_LENGTH",
    ];
    for (slot, key) in values.iter_mut().zip(keys) {
        let raw = env.get(key).unwrap_or_default();
        let (value, left) =
            encode_header_value(raw, core::mem::take(&mut rest)).ok_or_else(too_long)?;
        *slot = value;
        rest = left;
    }
    let [method, path, query, length] = values;
    start_response.start_bytes(
        "200 OK",
        &[
            ("Content-Type", b"application/octet-stream"),
            ("X-Method", method),
            ("X-Path", path),
            ("X-Query", query),
            ("X-Content-Length", length),
        ],
    )?;
    Ok(Stream::new(read_input as EchoFill))
}

/// Reads `wsgi.input` into `buf` until it is full or the body ends, as Python's
/// `read(n)` does (a single read may return less: whatever one packet brought).
fn read_input(req: &mut Request<'_, '_>, buf: &mut [u8]) -> Result<usize, AppError> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match req.input.read(rest)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A byte string as a header value: `raw` itself if it can be one, else percent-encoded
/// into `buf`; `None` if `buf` is too small for the encoding.
///
/// A value can be sent as it is when it has no control byte (`0x00`–`0x1F`, `0x7F`, which
/// the response writer and the validator refuse) and does not begin or end with a space
/// (which a client would strip). Otherwise the control bytes, the spaces and `%` itself are
/// written as `%XX` (upper-case hex), so an encoded value decodes back to the original
/// exactly; bytes `0x80`–`0xFF` stay as they are (`obs-text`, latin-1). The header does not
/// say which of the two it is: `/a%20` is the value `/a%20` sent as it is, and also the
/// value `/a ` encoded (the issue's convention encodes only what cannot be a header value).
///
/// ```
/// use wsgiref::demo::header_value;
///
/// let mut buf = [0u8; 32];
/// assert_eq!(header_value(b"/a b%20", &mut buf), Some(&b"/a b%20"[..]));
/// assert_eq!(header_value(b"/a\r\nb %", &mut buf), Some(&b"/a%0D%0Ab%20%25"[..]));
/// assert_eq!(header_value(b" x", &mut buf), Some(&b"%20x"[..]));
/// assert_eq!(header_value(b"\n\n\n\n\n\n\n\n\n\n\n", &mut buf), None);
/// ```
#[must_use]
pub fn header_value<'a>(raw: &'a [u8], buf: &'a mut [u8]) -> Option<&'a [u8]> {
    encode_header_value(raw, buf).map(|(value, _)| value)
}

/// [`header_value`], also returning the part of `buf` it did not use.
fn encode_header_value<'a>(raw: &'a [u8], buf: &'a mut [u8]) -> Option<(&'a [u8], &'a mut [u8])> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let control = |b: u8| b < 0x20 || b == 0x7f;
    let edge_space = raw.first() == Some(&b' ') || raw.last() == Some(&b' ');
    if !edge_space && !raw.iter().any(|&b| control(b)) {
        return Some((raw, buf));
    }
    let mut len = 0;
    for &b in raw {
        let hex = |n: u8| HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0');
        let encoded = [b'%', hex(b >> 4), hex(b)];
        let bytes: &[u8] = if control(b) || b == b' ' || b == b'%' {
            &encoded
        } else {
            core::slice::from_ref(&b)
        };
        buf.get_mut(len..len + bytes.len())?.copy_from_slice(bytes);
        len += bytes.len();
    }
    let (value, rest) = buf.split_at_mut(len);
    Some((value, rest))
}

#[cfg(test)]
mod echo_tests {
    use super::*;

    #[test]
    fn echo_header_values() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"/plain/path", b"/plain/path"),
            (b"a=1&b=%20", b"a=1&b=%20"),
            (b"/a b", b"/a b"),
            (b"/caf\xe9", b"/caf\xe9"),
            (b"/a\r\nSet-Cookie: x", b"/a%0D%0ASet-Cookie:%20x"),
            (b"\x00\x1f\x7f\t", b"%00%1F%7F%09"),
            (b"/trailing ", b"/trailing%20"),
            (b" leading", b"%20leading"),
            (b"100%\n", b"100%25%0A"),
        ];
        for (raw, expected) in table {
            let mut buf = [0u8; 64];
            assert_eq!(header_value(raw, &mut buf), Some(*expected), "{raw:?}");
        }
        // A value that needs no encoding is the input itself, even with no room at all.
        let raw = b"/ok";
        let got = header_value(raw, &mut []).unwrap();
        assert!(core::ptr::eq(got, &raw[..]));
        // Exactly enough room, and one byte short.
        let mut exact = [0u8; 6];
        assert_eq!(header_value(b"\n\n", &mut exact), Some(&b"%0A%0A"[..]));
        let mut short = [0u8; 5];
        assert_eq!(header_value(b"\n\n", &mut short), None);
    }
}
