//! The application interface: PEP 3333's WSGI callable, in Rust.
//!
//! An [`Application`] is called with a [`Request`] (the environ, `wsgi.input` and
//! `wsgi.errors`) and a [`StartResponse`]; it calls `start_response` and returns a
//! [`Body`], which the gateway then pulls block by block as the transport can take it, so a
//! body larger than memory streams. A body is a small state machine that is handed the
//! request again on every pull: it can stream from `wsgi.input` (an echo) or render from the
//! environ without borrowing either. Dropping the body is PEP 3333's `close()`: the
//! gateway drops it on every path.
//!
//! The seed's hello world:
//!
//! ```
//! use wsgiref::app::{AppError, Application, Bytes, Request, StartResponse, from_fn};
//!
//! fn hello(_req: &mut Request<'_, '_>, start_response: &mut StartResponse<'_>)
//!     -> Result<Bytes<&'static [u8]>, AppError>
//! {
//!     start_response.start("200 OK", &[("Content-type", "text/plain; charset=utf-8")])?;
//!     Ok(Bytes::new(b"Hello World"))
//! }
//!
//! // Plain functions are applications; closures go through `from_fn`.
//! fn takes_app(_: &impl Application) {}
//! takes_app(&hello);
//! takes_app(&from_fn(|_req, start_response| {
//!     start_response.start("204 No Content", &[])?;
//!     Ok(wsgiref::app::Empty)
//! }));
//! ```
//!
//! [`crate::handler::run`] runs an application against any gateway (`BaseHandler.run`).

use core::fmt;

use embedded_io::{ErrorType, Read};

use crate::environ::Environ;
use crate::{LocalError, RemoteError};

/// Why reading `wsgi.input` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// The request body is malformed, too large, timed out or cut short; answered with its
    /// status.
    Remote(RemoteError),
    /// The transport failed.
    Io(embedded_io::ErrorKind),
    /// The input was used in a way the validator refuses.
    Invalid(&'static str),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Remote(e) => write!(f, "request body: {e}"),
            Self::Io(kind) => write!(f, "transport: {kind:?}"),
            Self::Invalid(m) => f.write_str(m),
        }
    }
}

impl core::error::Error for InputError {}

#[cfg(feature = "defmt")]
impl defmt::Format for InputError {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Remote(e) => defmt::write!(f, "request body: {}", e),
            Self::Io(_) => defmt::write!(f, "transport failed"),
            Self::Invalid(m) => defmt::write!(f, "{=str}", m),
        }
    }
}

impl embedded_io::Error for InputError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Self::Remote(RemoteError::Timeout) => embedded_io::ErrorKind::TimedOut,
            Self::Remote(_) => embedded_io::ErrorKind::InvalidData,
            Self::Io(kind) => *kind,
            Self::Invalid(_) => embedded_io::ErrorKind::InvalidInput,
        }
    }
}

/// `wsgi.input`: the request body, bounded by its framing (`Ok(0)` at its end, never the
/// next request). Its first read releases a pending `100 Continue`.
pub type Input<'a> = dyn Read<Error = InputError> + 'a;

/// An input with nothing in it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoInput;

impl ErrorType for NoInput {
    type Error = InputError;
}

impl Read for NoInput {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize, InputError> {
        Ok(0)
    }
}

/// An input over bytes in memory (a body already buffered, tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct SliceInput<'a>(pub &'a [u8]);

impl ErrorType for SliceInput<'_> {
    type Error = InputError;
}

impl Read for SliceInput<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        let n = buf.len().min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        if let Some(out) = buf.get_mut(..n) {
            out.copy_from_slice(head);
        }
        self.0 = rest;
        Ok(n)
    }
}

/// An error raised by an application (or by the gateway on its behalf): logged, and turned
/// into the error output if the response head was not sent yet. Its `Display` is the last
/// line of a Python traceback: `Kind: message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AppError {
    kind: &'static str,
    message: &'static str,
    /// The status a request-side error should be answered with, if it is one.
    status: Option<u16>,
}

impl AppError {
    /// An application error with a message (`Exception(message)`).
    #[must_use]
    pub const fn new(message: &'static str) -> Self {
        Self::with_kind("Error", message)
    }

    /// An error of a named kind, such as `AssertionError` (what the validator raises).
    #[must_use]
    pub const fn with_kind(kind: &'static str, message: &'static str) -> Self {
        Self {
            kind,
            message,
            status: None,
        }
    }

    /// The kind (Python's exception class name).
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        self.kind
    }

    /// The message.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        self.message
    }

    /// The status of the request-side error behind this one, if any (400, 408, 413, …).
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        self.status
    }

    /// The client went away: a `ConnectionResetError`, `BrokenPipeError` or
    /// `ConnectionAbortedError`, which [`crate::handler::run`] ends the request on quietly
    /// (no log, no error output), as Python's `BaseHandler.run` does, whoever raised it:
    /// `wsgi.input` and `write` raise them when the transport fails.
    ///
    /// ```
    /// use wsgiref::app::AppError;
    /// assert!(AppError::with_kind("BrokenPipeError", "").is_disconnect());
    /// assert!(!AppError::with_kind("OSError", "disk full").is_disconnect());
    /// ```
    #[must_use]
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self.kind,
            "ConnectionResetError" | "BrokenPipeError" | "ConnectionAbortedError"
        )
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

impl core::error::Error for AppError {}

impl From<LocalError> for AppError {
    // One copy of the message table in the `small` build (it was inlined into a caller too).
    #[cfg_attr(feature = "small", inline(never))]
    fn from(e: LocalError) -> Self {
        let message = match e {
            LocalError::InvalidState => "call not allowed in the current state",
            LocalError::BadStatus => "Status must be 3 digits, a space and a reason phrase",
            LocalError::BadHeaderName => "Header names must be tokens",
            LocalError::BadHeaderValue => "Control characters not allowed in headers",
            LocalError::BadContentLength => {
                "Content-Length must be digits only, the same in every field"
            }
            LocalError::HopByHopHeader => "Hop-by-hop headers not allowed",
            LocalError::AlreadyStarted => "Headers already set!",
            LocalError::HeadersAlreadySent => "Headers already sent",
            LocalError::BodyTooLong => "Body longer than its Content-Length",
            LocalError::BufferTooSmall { .. } => "Buffer too small",
            LocalError::CapacityExceeded => "Fixed capacity exceeded",
        };
        Self::with_kind("AssertionError", message)
    }
}

impl From<RemoteError> for AppError {
    fn from(e: RemoteError) -> Self {
        Self {
            kind: "RemoteError",
            message: e.as_str(),
            status: Some(e.status()),
        }
    }
}

impl From<InputError> for AppError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Remote(r) => r.into(),
            InputError::Io(kind) => match kind {
                embedded_io::ErrorKind::ConnectionReset => {
                    Self::with_kind("ConnectionResetError", "the client went away")
                }
                embedded_io::ErrorKind::BrokenPipe => {
                    Self::with_kind("BrokenPipeError", "the client went away")
                }
                embedded_io::ErrorKind::ConnectionAborted => {
                    Self::with_kind("ConnectionAbortedError", "the client went away")
                }
                _ => Self::with_kind("OSError", "transport failed"),
            },
            InputError::Invalid(m) => Self::with_kind("AssertionError", m),
        }
    }
}

/// What an application sees of a request: the environ, `wsgi.input` and `wsgi.errors`.
pub struct Request<'r, 'e> {
    /// The environ.
    pub environ: &'r mut Environ<'e>,
    /// `wsgi.input`.
    pub input: &'r mut Input<'r>,
    /// `wsgi.errors`: a text sink for the application's diagnostics.
    pub errors: &'r mut dyn fmt::Write,
}

impl fmt::Debug for Request<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("environ", &self.environ)
            .finish_non_exhaustive()
    }
}

/// The header list of a `start_response` call, as the application gave it: text values
/// ([`StartResponse::start`]) or byte values, latin-1 native strings
/// ([`StartResponse::start_bytes`], [`StartResponse::restart`]). Passed through to the
/// gateway without a copy, however many headers there are.
///
/// ```
/// use wsgiref::app::ResponseHeaders;
///
/// let (text, bytes) = (
///     [("Content-Type", "text/plain")],
///     [("X-Latin", &b"caf\xe9"[..])],
/// );
/// let (text, bytes) = (ResponseHeaders::from(&text[..]), ResponseHeaders::from(&bytes[..]));
/// assert_eq!(text.iter().next(), Some(("Content-Type", &b"text/plain"[..])));
/// assert_eq!(bytes.iter().next(), Some(("X-Latin", &b"caf\xe9"[..])));
/// assert_eq!((text.len(), ResponseHeaders::default().is_empty()), (1, true));
/// ```
#[derive(Clone, Copy, Debug)]
pub enum ResponseHeaders<'h> {
    /// Text values.
    Text(&'h [(&'h str, &'h str)]),
    /// Byte values.
    Bytes(&'h [(&'h str, &'h [u8])]),
}

impl Default for ResponseHeaders<'_> {
    /// No headers.
    fn default() -> Self {
        Self::Bytes(&[])
    }
}

impl<'h> ResponseHeaders<'h> {
    /// The `(name, value)` pairs in order, values as bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&'h str, &'h [u8])> + Clone + 'h {
        let (text, bytes): (&'h [(&'h str, &'h str)], &'h [(&'h str, &'h [u8])]) = match *self {
            Self::Text(h) => (h, &[]),
            Self::Bytes(h) => (&[], h),
        };
        text.iter()
            .map(|&(name, value)| (name, value.as_bytes()))
            .chain(bytes.iter().copied())
    }

    /// How many headers.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(h) => h.len(),
            Self::Bytes(h) => h.len(),
        }
    }

    /// No headers?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'h> From<&'h [(&'h str, &'h str)]> for ResponseHeaders<'h> {
    fn from(headers: &'h [(&'h str, &'h str)]) -> Self {
        Self::Text(headers)
    }
}

impl<'h> From<&'h [(&'h str, &'h [u8])]> for ResponseHeaders<'h> {
    fn from(headers: &'h [(&'h str, &'h [u8])]) -> Self {
        Self::Bytes(headers)
    }
}

/// The gateway side of `start_response` and `write` (implemented by the handler, and by
/// middleware such as the validator that wraps it).
pub trait ResponseStart {
    /// `start_response(status, headers)`; with `replace`, the `exc_info` form.
    ///
    /// # Errors
    /// The status or a header is invalid, or the call is not allowed now.
    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), AppError>;

    /// The `write(data)` callable.
    ///
    /// # Errors
    /// Before `start_response`, past the Content-Length, or the transport failed.
    fn write(&mut self, data: &[u8]) -> Result<(), AppError>;

    /// Has the response head been sent?
    fn headers_sent(&self) -> bool;

    /// Has `start_response` been called?
    fn started(&self) -> bool;
}

/// PEP 3333's `start_response` callable, and the `write` callable it returns.
pub struct StartResponse<'s> {
    inner: &'s mut dyn ResponseStart,
}

impl fmt::Debug for StartResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartResponse")
            .field("started", &self.inner.started())
            .field("headers_sent", &self.inner.headers_sent())
            .finish()
    }
}

impl<'s> StartResponse<'s> {
    /// Wraps a gateway (or middleware) implementation.
    pub fn new(inner: &'s mut dyn ResponseStart) -> Self {
        Self { inner }
    }

    /// `start_response(status, headers)`: `status` like `"200 OK"`, headers as text. Text
    /// goes out as its UTF-8 bytes: a reason or value beyond ASCII is sent as `obs-text`
    /// (CPython encodes latin-1 and refuses characters above U+00FF); for latin-1 bytes, use
    /// [`StartResponse::start_bytes`].
    ///
    /// # Errors
    /// Status not `NNN reason` (on HTTP, a final code: 200 to 599), control characters, a
    /// `Content-Length` that is not digits, a hop-by-hop header, or a second call (use
    /// [`StartResponse::restart`] for the `exc_info` form).
    pub fn start(&mut self, status: &str, headers: &[(&str, &str)]) -> Result<(), AppError> {
        self.inner
            .start(status, ResponseHeaders::Text(headers), false)
    }

    /// `start_response(status, headers)` with byte values (latin-1 native strings).
    ///
    /// # Errors
    /// As [`StartResponse::start`].
    pub fn start_bytes(&mut self, status: &str, headers: &[(&str, &[u8])]) -> Result<(), AppError> {
        self.inner
            .start(status, ResponseHeaders::Bytes(headers), false)
    }

    /// `start_response(status, headers, exc_info)`: replaces the response after an error,
    /// allowed only while the head has not been sent.
    ///
    /// # Errors
    /// The head was already sent: the error must end the response.
    pub fn restart(&mut self, status: &str, headers: &[(&str, &[u8])]) -> Result<(), AppError> {
        self.inner
            .start(status, ResponseHeaders::Bytes(headers), true)
    }

    /// `start_response` with a header list as it came, text or bytes, `replace` for the
    /// `exc_info` form: for middleware that passes an application's call on (a
    /// [`ResponseStart`] around this one), without copying the list.
    ///
    /// # Errors
    /// As [`StartResponse::start`] and [`StartResponse::restart`].
    pub fn start_headers(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), AppError> {
        self.inner.start(status, headers, replace)
    }

    /// The `write(data)` callable, for imperative applications. The head goes out with the
    /// first non-empty block.
    ///
    /// # Errors
    /// Before `start_response`, past the declared Content-Length, or a transport failure.
    pub fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        self.inner.write(data)
    }

    /// Has `start_response` been called?
    #[must_use]
    pub fn started(&self) -> bool {
        self.inner.started()
    }

    /// Has the response head been sent?
    #[must_use]
    pub fn headers_sent(&self) -> bool {
        self.inner.headers_sent()
    }
}

/// A file the gateway may send with a platform fast path (`wsgi.file_wrapper`, sendfile).
pub trait FileSource {
    /// Reads the next block; `Ok(0)` at the end.
    ///
    /// # Errors
    /// Reading the file failed.
    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, AppError>;

    /// The OS file descriptor, for adapters that can `sendfile(2)` it.
    fn raw_fd(&self) -> Option<i32> {
        None
    }

    /// The source as `Any`, so an adapter can recognise its own file type (and reach the
    /// OS file behind it) without `unsafe`.
    fn as_any_mut(&mut self) -> Option<&mut dyn core::any::Any> {
        None
    }
}

/// A response body, pulled block by block by the gateway. Dropping it is `close()`.
pub trait Body {
    /// The next block, `None` at the end. Empty blocks are allowed (and do not send the
    /// head). The request is handed in so the body can read the input or the environ.
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>>;

    /// True if the body is exactly one block (PEP 3333: "an iterable whose len() is 1"),
    /// so the gateway may infer Content-Length from it.
    fn single_block(&self) -> bool {
        false
    }

    /// The body as a file, for `wsgi.file_wrapper` fast paths.
    fn file(&mut self) -> Option<&mut dyn FileSource> {
        None
    }
}

/// An empty body (`return []`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Empty;

impl Body for Empty {
    fn next_block<'b>(
        &'b mut self,
        _: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        None
    }
}

/// A body of one block (`return [data]`): Content-Length is inferred.
#[derive(Clone, Debug, Default)]
pub struct Bytes<B> {
    data: B,
    sent: bool,
}

impl<B: AsRef<[u8]>> Bytes<B> {
    /// A body of exactly `data`.
    pub const fn new(data: B) -> Self {
        Self { data, sent: false }
    }
}

impl<B: AsRef<[u8]>> Body for Bytes<B> {
    fn next_block<'b>(
        &'b mut self,
        _: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        if self.sent {
            return None;
        }
        self.sent = true;
        Some(Ok(self.data.as_ref()))
    }

    fn single_block(&self) -> bool {
        true
    }
}

/// A body of several blocks from an iterator (a generator).
#[derive(Clone, Debug)]
pub struct Blocks<I: Iterator> {
    iter: I,
    current: Option<I::Item>,
}

impl<I: Iterator> Blocks<I>
where
    I::Item: AsRef<[u8]>,
{
    /// A body yielding the iterator's items in order.
    pub fn new(iter: I) -> Self {
        Self {
            iter,
            current: None,
        }
    }
}

impl<I: Iterator> Body for Blocks<I>
where
    I::Item: AsRef<[u8]>,
{
    fn next_block<'b>(
        &'b mut self,
        _: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        self.current = Some(self.iter.next()?);
        self.current.as_ref().map(|c| Ok(c.as_ref()))
    }
}

/// A body produced by a function that fills a buffer of `N` bytes each time (returning how
/// many it wrote, `Ok(0)` or `None` at the end): streams from `wsgi.input`, a sensor, a file.
pub struct Stream<F, const N: usize> {
    fill: F,
    buf: [u8; N],
    done: bool,
}

impl<F, const N: usize> fmt::Debug for Stream<F, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("block", &N)
            .finish_non_exhaustive()
    }
}

impl<F, const N: usize> Stream<F, N>
where
    F: FnMut(&mut Request<'_, '_>, &mut [u8]) -> Result<usize, AppError>,
{
    /// A body whose blocks `fill` writes into an internal buffer of `N` bytes.
    pub fn new(fill: F) -> Self {
        Self {
            fill,
            buf: [0; N],
            done: false,
        }
    }
}

impl<F, const N: usize> Body for Stream<F, N>
where
    F: FnMut(&mut Request<'_, '_>, &mut [u8]) -> Result<usize, AppError>,
{
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        if self.done {
            return None;
        }
        match (self.fill)(req, &mut self.buf) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(n) => Some(Ok(self.buf.get(..n).unwrap_or(&self.buf))),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A file body (`wsgi.file_wrapper(filelike, blksize)`): read in blocks of up to `N` bytes,
/// or handed whole to a gateway that can send files faster ([`Body::file`]).
pub struct FileBody<R, const N: usize = 8192> {
    reader: R,
    buf: [u8; N],
    done: bool,
}

impl<R, const N: usize> fmt::Debug for FileBody<R, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBody")
            .field("blksize", &N)
            .finish_non_exhaustive()
    }
}

impl<R: Read, const N: usize> FileBody<R, N> {
    /// A body streaming `reader` to its end.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: [0; N],
            done: false,
        }
    }

    /// The reader back (closing is dropping it).
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The reader, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }
}

impl<R: Read, const N: usize> FileSource for FileBody<R, N> {
    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, AppError> {
        self.reader
            .read(buf)
            .map_err(|_| AppError::with_kind("OSError", "reading the file failed"))
    }
}

impl<R: Read, const N: usize> Body for FileBody<R, N> {
    fn next_block<'b>(
        &'b mut self,
        _: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        if self.done {
            return None;
        }
        match self.reader.read(&mut self.buf) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(n) => Some(Ok(self.buf.get(..n).unwrap_or(&self.buf))),
            Err(_) => {
                self.done = true;
                Some(Err(AppError::with_kind(
                    "OSError",
                    "reading the file failed",
                )))
            }
        }
    }

    fn file(&mut self) -> Option<&mut dyn FileSource> {
        Some(self)
    }
}

/// A WSGI application.
pub trait Application {
    /// The body it returns.
    type Body: Body;

    /// Serves one request: calls `start_response` and returns the body.
    ///
    /// # Errors
    /// Any error: before the head is sent it becomes the error output (500), after it the
    /// connection is closed. Either way it is logged.
    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Self::Body, AppError>;
}

impl<F, B> Application for F
where
    F: Fn(&mut Request<'_, '_>, &mut StartResponse<'_>) -> Result<B, AppError>,
    B: Body,
{
    type Body = B;

    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<B, AppError> {
        self(req, start_response)
    }
}

/// An application from a closure (gives the closure its argument types).
pub fn from_fn<F, B>(f: F) -> F
where
    F: Fn(&mut Request<'_, '_>, &mut StartResponse<'_>) -> Result<B, AppError>,
    B: Body,
{
    f
}
