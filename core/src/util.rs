//! `wsgiref.util`: helpers over the environ and header names.
//!
//! | `wsgiref.util` | here |
//! |---|---|
//! | `FileWrapper(filelike, blksize=8192)` | [`FileWrapper`], [`DEFAULT_BLKSIZE`] |
//! | `guess_scheme(environ)` | [`guess_scheme`] |
//! | `application_uri(environ)` | [`application_uri`], [`try_application_uri`] |
//! | `request_uri(environ, include_query=True)` | [`request_uri`], [`try_request_uri`] |
//! | `shift_path_info(environ)` | [`shift_path_info`] (with a scratch buffer) |
//! | `setup_testing_defaults(environ)` | [`setup_testing_defaults`] |
//! | `is_hop_by_hop(header_name)` | [`is_hop_by_hop`] |
//!
//! Nothing here allocates: URLs are values implementing [`Display`](core::fmt::Display),
//! written straight into whatever formatter the caller has; [`shift_path_info`] computes
//! the new variables in a buffer the caller lends. Environ values are latin-1 native
//! strings, so a byte `0x80..=0xFF` written verbatim comes out as the character
//! `U+0080..=U+00FF`, exactly as Python's `str` would hold it.

use core::fmt::{self, Write as _};

use embedded_io::Read;

use crate::LocalError;
use crate::environ::{Environ, Value};

/// Is `name` a hop-by-hop header (RFC 2616 §13.5.1, as `wsgiref.util.is_hop_by_hop`)?
/// The gateway owns these; an application may not set them.
///
/// ```
/// use wsgiref::util::is_hop_by_hop;
/// assert!(is_hop_by_hop("Connection"));
/// assert!(is_hop_by_hop("transfer-encoding"));
/// assert!(!is_hop_by_hop("Content-Type"));
/// ```
#[must_use]
pub fn is_hop_by_hop(name: &str) -> bool {
    ResponseName::of(name) == ResponseName::HopByHop
}

/// What the response writer must know about a response header's name (it asks this for
/// every header an application sets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseName {
    /// A hop-by-hop header ([`is_hop_by_hop`]).
    HopByHop,
    /// `Content-Length`.
    ContentLength,
    /// `Date`.
    Date,
    /// `Server`.
    Server,
    /// Any other name.
    Other,
}

impl ResponseName {
    /// With the `small` feature: one loop over the names (smaller code than the dispatch),
    /// kept as one text with an end and a kind each (2 bytes a name, not 12).
    #[cfg(feature = "small")]
    pub(crate) fn of(name: &str) -> Self {
        const NAMES: [(&str, ResponseName); 11] = [
            ("te", ResponseName::HopByHop),
            ("date", ResponseName::Date),
            ("server", ResponseName::Server),
            ("upgrade", ResponseName::HopByHop),
            ("trailers", ResponseName::HopByHop),
            ("connection", ResponseName::HopByHop),
            ("keep-alive", ResponseName::HopByHop),
            ("content-length", ResponseName::ContentLength),
            ("transfer-encoding", ResponseName::HopByHop),
            ("proxy-authenticate", ResponseName::HopByHop),
            ("proxy-authorization", ResponseName::HopByHop),
        ];
        // The names one after the other, and where each one ends, with its kind.
        #[allow(clippy::indexing_slicing)] // const evaluation: out of bounds fails the build
        const LEN: usize = {
            let mut len = 0;
            let mut i = 0;
            while i < NAMES.len() {
                len += NAMES[i].0.len();
                i += 1;
            }
            len
        };
        #[allow(clippy::indexing_slicing)] // const evaluation: out of bounds fails the build
        static TEXT: ([u8; LEN], [(u8, ResponseName); NAMES.len()]) = {
            let mut text = [0; LEN];
            let mut ends = [(0, ResponseName::Other); NAMES.len()];
            let (mut i, mut at) = (0, 0);
            while i < NAMES.len() {
                let name = NAMES[i].0.as_bytes();
                let mut j = 0;
                while j < name.len() {
                    text[at] = name[j];
                    at += 1;
                    j += 1;
                }
                ends[i] = (at as u8, NAMES[i].1);
                i += 1;
            }
            (text, ends)
        };
        let mut start = 0;
        for &(end, kind) in &TEXT.1 {
            let end = usize::from(end);
            if TEXT
                .0
                .get(start..end)
                .is_some_and(|known| crate::abnf::eq_ignore_case(known, name.as_bytes()))
            {
                return kind;
            }
            start = end;
        }
        Self::Other
    }

    /// One dispatch on the length, then at most two comparisons.
    #[cfg(not(feature = "small"))]
    #[inline]
    pub(crate) fn of(name: &str) -> Self {
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        match name.len() {
            2 if is("te") => Self::HopByHop,
            4 if is("date") => Self::Date,
            6 if is("server") => Self::Server,
            7 if is("upgrade") => Self::HopByHop,
            8 if is("trailers") => Self::HopByHop,
            10 if is("connection") || is("keep-alive") => Self::HopByHop,
            14 if is("content-length") => Self::ContentLength,
            17 if is("transfer-encoding") => Self::HopByHop,
            18 if is("proxy-authenticate") => Self::HopByHop,
            19 if is("proxy-authorization") => Self::HopByHop,
            _ => Self::Other,
        }
    }
}

/// Python's default block size for `FileWrapper` (`blksize=8192`).
pub const DEFAULT_BLKSIZE: usize = 8192;

/// A readable object read block by block, as `wsgiref.util.FileWrapper(filelike, blksize)`
/// (what a server offers as `wsgi.file_wrapper`).
///
/// Each [`FileWrapper::next_block`] is one `next()` of Python's iterator: one call to
/// `filelike.read(blksize)`. A non-empty read is a block as it is, even when it is shorter
/// than `blksize` ([`embedded_io::Read::read`] may return fewer bytes than asked, as a
/// Python file's `read(blksize)` may); an empty read (`Ok(0)`) ends the iteration. The
/// wrapper is not fused: like Python's, asking again after the end reads again.
///
/// Closing: Python's `wrapper.close()` is `filelike.close()`, and exhausting the iterator
/// never closes the file. Here the reader is closed by dropping it: drop the wrapper, or take
/// the reader back with [`FileWrapper::into_inner`]. Reaching the end drops nothing.
///
/// ```
/// use wsgiref::util::FileWrapper;
///
/// let data = b"xyz".repeat(50); // 150 bytes
/// let mut wrapper = FileWrapper::new(&data[..], 120);
/// let mut buf = [0u8; 256];
/// assert_eq!(wrapper.next_block(&mut buf).unwrap().unwrap(), &b"xyz".repeat(40)[..]);
/// assert_eq!(wrapper.next_block(&mut buf).unwrap().unwrap(), &b"xyz".repeat(10)[..]);
/// assert!(wrapper.next_block(&mut buf).is_none());
/// let reader: &[u8] = wrapper.into_inner(); // the reader, still open, now fully read
/// assert!(reader.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct FileWrapper<R> {
    filelike: R,
    blksize: usize,
}

impl<R: Read> FileWrapper<R> {
    /// Wraps `filelike`, reading it `blksize` bytes at a time (Python's
    /// `FileWrapper(filelike, blksize)`; pass [`DEFAULT_BLKSIZE`] for Python's default).
    #[must_use]
    pub const fn new(filelike: R, blksize: usize) -> Self {
        Self { filelike, blksize }
    }

    /// The next block (Python's `next(wrapper)`): reads once into
    /// `buf[..min(blksize, buf.len())]` and returns the bytes read, `None` at the end (an
    /// empty read), or the reader's error.
    ///
    /// A block size of zero (`blksize` 0 or an empty `buf`) ends the iteration without
    /// calling the reader, as Python's `read(0)` returns `''` and so `StopIteration`.
    ///
    /// ```
    /// use wsgiref::util::{DEFAULT_BLKSIZE, FileWrapper};
    ///
    /// let mut wrapper = FileWrapper::new(&b"hello"[..], DEFAULT_BLKSIZE);
    /// let mut buf = [0u8; 4];
    /// assert_eq!(wrapper.next_block(&mut buf), Some(Ok(&b"hell"[..])));
    /// assert_eq!(wrapper.next_block(&mut buf), Some(Ok(&b"o"[..])));
    /// assert_eq!(wrapper.next_block(&mut buf), None);
    /// ```
    pub fn next_block<'b>(&mut self, buf: &'b mut [u8]) -> Option<Result<&'b [u8], R::Error>> {
        let len = self.blksize.min(buf.len());
        let block = buf.get_mut(..len)?;
        if block.is_empty() {
            return None;
        }
        match self.filelike.read(block) {
            Ok(0) => None,
            Err(e) => Some(Err(e)),
            Ok(n) => {
                let block: &'b [u8] = block;
                // A reader claiming more than it was given breaks the `Read` contract;
                // hand out the whole block rather than panic.
                Some(Ok(block.get(..n).unwrap_or(block)))
            }
        }
    }

    /// The block size (Python's `wrapper.blksize`).
    #[must_use]
    pub const fn blksize(&self) -> usize {
        self.blksize
    }

    /// The wrapped reader (Python's `wrapper.filelike`).
    #[must_use]
    pub const fn get_ref(&self) -> &R {
        &self.filelike
    }

    /// The wrapped reader, mutably.
    pub const fn get_mut(&mut self) -> &mut R {
        &mut self.filelike
    }

    /// Gives the reader back. Python's `wrapper.close()` is dropping what this returns
    /// (or the wrapper itself).
    #[must_use]
    pub fn into_inner(self) -> R {
        self.filelike
    }
}

/// The URL scheme the environ's `HTTPS` variable implies (`wsgiref.util.guess_scheme`):
/// `"https"` exactly when `HTTPS` is `yes`, `on` or `1` (case-sensitive), else `"http"`.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::guess_scheme;
///
/// let mut arena = [0u8; 0];
/// let pairs: &[(&str, &[u8])] = &[("HTTPS", b"on")];
/// assert_eq!(guess_scheme(&Environ::from_pairs(pairs, &mut arena)), "https");
/// let pairs: &[(&str, &[u8])] = &[("HTTPS", b"ON")];
/// assert_eq!(guess_scheme(&Environ::from_pairs(pairs, &mut arena)), "http");
/// assert_eq!(guess_scheme(&Environ::from_pairs(&[], &mut arena)), "http");
/// ```
#[must_use]
pub fn guess_scheme(environ: &Environ<'_>) -> &'static str {
    match environ.get("HTTPS") {
        Some(b"yes" | b"on" | b"1") => "https",
        _ => "http",
    }
}

/// A variable [`application_uri`] or [`request_uri`] needs is absent (Python's
/// `KeyError(key)`), or is not a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct MissingKey {
    /// The variable: `wsgi.url_scheme`, `SERVER_NAME` or `SERVER_PORT`.
    pub key: &'static str,
}

impl fmt::Display for MissingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environ has no {}", self.key)
    }
}

impl core::error::Error for MissingKey {}

/// The host part of an application URI.
#[derive(Clone, Copy, Debug)]
enum Host<'e> {
    /// A non-empty `HTTP_HOST`, verbatim.
    Header(&'e [u8]),
    /// `SERVER_NAME`, then `:SERVER_PORT` unless it is the scheme's default.
    Server {
        name: &'e [u8],
        port: Option<&'e [u8]>,
    },
}

/// Everything [`ApplicationUri`] writes, looked up once.
#[derive(Clone, Copy, Debug)]
struct AppParts<'e> {
    scheme: &'e [u8],
    host: Host<'e>,
    script_name: &'e [u8],
}

impl<'e> AppParts<'e> {
    fn new(environ: &'e Environ<'_>) -> Result<Self, MissingKey> {
        let required = |key: &'static str| environ.get(key).ok_or(MissingKey { key });
        let scheme = required("wsgi.url_scheme")?;
        let host = match environ.get("HTTP_HOST") {
            Some(host) if !host.is_empty() => Host::Header(host),
            _ => {
                let name = required("SERVER_NAME")?;
                let port = required("SERVER_PORT")?;
                let default: &[u8] = if scheme == b"https" { b"443" } else { b"80" };
                Host::Server {
                    name,
                    port: (port != default).then_some(port),
                }
            }
        };
        let script_name = match environ.get("SCRIPT_NAME") {
            Some(s) if !s.is_empty() => s,
            _ => b"/",
        };
        Ok(Self {
            scheme,
            host,
            script_name,
        })
    }

    fn write<W: fmt::Write + ?Sized>(&self, out: &mut W) -> fmt::Result {
        write_latin1(out, self.scheme)?;
        out.write_str("://")?;
        match self.host {
            Host::Header(host) => write_latin1(out, host)?,
            Host::Server { name, port } => {
                write_latin1(out, name)?;
                if let Some(port) = port {
                    out.write_char(':')?;
                    write_latin1(out, port)?;
                }
            }
        }
        write_quoted(out, self.script_name, SCRIPT_NAME_SAFE)
    }
}

/// The base URL of the application, from [`application_uri`]; write it with `{}`.
#[derive(Clone, Copy, Debug)]
pub struct ApplicationUri<'e> {
    parts: Result<AppParts<'e>, MissingKey>,
}

impl ApplicationUri<'_> {
    /// The variable that is missing, if any (then formatting fails).
    #[must_use]
    pub fn missing(&self) -> Option<MissingKey> {
        self.parts.err()
    }
}

impl fmt::Display for ApplicationUri<'_> {
    /// Fails with [`fmt::Error`] when a required variable is missing ([`Self::missing`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts.map_err(|_| fmt::Error)?.write(f)
    }
}

/// The application's base URL (`wsgiref.util.application_uri`): scheme, host and quoted
/// `SCRIPT_NAME`, without `PATH_INFO` or `QUERY_STRING`.
///
/// * `wsgi.url_scheme` + `://`;
/// * a non-empty `HTTP_HOST` verbatim, else `SERVER_NAME` followed by `:SERVER_PORT`
///   unless the port is `443` for `https` or `80` for any other scheme (compared as
///   strings);
/// * `SCRIPT_NAME` (`/` when absent or empty) percent-encoded with upper-case hex, leaving
///   only `A-Z a-z 0-9 _ . - ~ /` as they are (`quote(..., encoding='latin1')`).
///
/// Where Python raises `KeyError` (no `wsgi.url_scheme`; no `SERVER_NAME` or
/// `SERVER_PORT` when they are needed) the value still exists but formatting it returns
/// [`fmt::Error`] (so `format!` would panic): use [`try_application_uri`] to get the
/// [`MissingKey`] up front.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::application_uri;
///
/// let pairs: &[(&str, &[u8])] = &[
///     ("wsgi.url_scheme", b"http"),
///     ("SERVER_NAME", b"example.com"),
///     ("SERVER_PORT", b"8080"),
///     ("SCRIPT_NAME", b"/sp\xe4m"),
/// ];
/// let mut arena = [0u8; 0];
/// let env = Environ::from_pairs(pairs, &mut arena);
/// assert_eq!(application_uri(&env).to_string(), "http://example.com:8080/sp%E4m");
/// ```
#[must_use]
pub fn application_uri<'e>(environ: &'e Environ<'_>) -> ApplicationUri<'e> {
    ApplicationUri {
        parts: AppParts::new(environ),
    }
}

/// [`application_uri`], with Python's `KeyError` as an error instead of a failing
/// [`Display`](fmt::Display).
///
/// # Errors
/// [`MissingKey`] naming the first variable Python would have failed on.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::{MissingKey, try_application_uri};
///
/// let pairs: &[(&str, &[u8])] = &[("wsgi.url_scheme", b"https"), ("SERVER_NAME", b"h")];
/// let mut arena = [0u8; 0];
/// let env = Environ::from_pairs(pairs, &mut arena);
/// assert_eq!(try_application_uri(&env).unwrap_err(), MissingKey { key: "SERVER_PORT" });
/// ```
pub fn try_application_uri<'e>(environ: &'e Environ<'_>) -> Result<ApplicationUri<'e>, MissingKey> {
    AppParts::new(environ).map(|parts| ApplicationUri { parts: Ok(parts) })
}

/// Everything [`RequestUri`] writes, looked up once.
#[derive(Clone, Copy, Debug)]
struct ReqParts<'e> {
    app: AppParts<'e>,
    path_info: &'e [u8],
    /// `SCRIPT_NAME` is absent or empty: the quoted `PATH_INFO` loses its first character.
    drop_first: bool,
    query: Option<&'e [u8]>,
}

/// The full request URL, from [`request_uri`]; write it with `{}`.
#[derive(Clone, Copy, Debug)]
pub struct RequestUri<'e> {
    parts: Result<ReqParts<'e>, MissingKey>,
}

impl RequestUri<'_> {
    /// The variable that is missing, if any (then formatting fails).
    #[must_use]
    pub fn missing(&self) -> Option<MissingKey> {
        self.parts.err()
    }
}

impl fmt::Display for RequestUri<'_> {
    /// Fails with [`fmt::Error`] when a required variable is missing ([`Self::missing`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.parts.map_err(|_| fmt::Error)?;
        parts.app.write(f)?;
        if parts.drop_first {
            let mut skip = SkipFirstChar {
                inner: f,
                pending: true,
            };
            write_quoted(&mut skip, parts.path_info, PATH_INFO_SAFE)?;
        } else {
            write_quoted(f, parts.path_info, PATH_INFO_SAFE)?;
        }
        if let Some(query) = parts.query {
            f.write_char('?')?;
            write_latin1(f, query)?;
        }
        Ok(())
    }
}

/// The URL of the request (`wsgiref.util.request_uri`): [`application_uri`], then the
/// quoted `PATH_INFO`, then `?QUERY_STRING` when `include_query` and it is non-empty.
///
/// * `PATH_INFO` (empty when absent) is percent-encoded like `SCRIPT_NAME` but also
///   leaving `;`, `=` and `,` as they are (`quote(path_info, safe='/;=,')`).
/// * When `SCRIPT_NAME` is absent or empty, the first character **of the quoted**
///   `PATH_INFO` is dropped, as Python's `path_info[1:]` does (the application URI
///   already ends with `/`): `PATH_INFO` `xy` gives `y`, and ` x` gives `20x`.
/// * `QUERY_STRING` is written verbatim, bytes `0x80..=0xFF` as the latin-1 characters.
///
/// Missing variables: as [`application_uri`]; see [`try_request_uri`].
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::request_uri;
///
/// let pairs: &[(&str, &[u8])] = &[
///     ("wsgi.url_scheme", b"http"),
///     ("HTTP_HOST", b"127.0.0.1"),
///     ("SCRIPT_NAME", b"/spammity"),
///     ("PATH_INFO", b"/spam;cookie=1234,5678 x"),
///     ("QUERY_STRING", b"say=ni"),
/// ];
/// let mut arena = [0u8; 0];
/// let env = Environ::from_pairs(pairs, &mut arena);
/// assert_eq!(
///     request_uri(&env, true).to_string(),
///     "http://127.0.0.1/spammity/spam;cookie=1234,5678%20x?say=ni"
/// );
/// assert_eq!(
///     request_uri(&env, false).to_string(),
///     "http://127.0.0.1/spammity/spam;cookie=1234,5678%20x"
/// );
/// ```
#[must_use]
pub fn request_uri<'e>(environ: &'e Environ<'_>, include_query: bool) -> RequestUri<'e> {
    RequestUri {
        parts: ReqParts::new(environ, include_query),
    }
}

/// [`request_uri`], with Python's `KeyError` as an error instead of a failing
/// [`Display`](fmt::Display).
///
/// # Errors
/// [`MissingKey`] naming the first variable Python would have failed on.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::{MissingKey, try_request_uri};
///
/// let mut arena = [0u8; 0];
/// let env = Environ::from_pairs(&[], &mut arena);
/// let err = try_request_uri(&env, true).unwrap_err();
/// assert_eq!(err, MissingKey { key: "wsgi.url_scheme" });
/// ```
pub fn try_request_uri<'e>(
    environ: &'e Environ<'_>,
    include_query: bool,
) -> Result<RequestUri<'e>, MissingKey> {
    ReqParts::new(environ, include_query).map(|parts| RequestUri { parts: Ok(parts) })
}

impl<'e> ReqParts<'e> {
    fn new(environ: &'e Environ<'_>, include_query: bool) -> Result<Self, MissingKey> {
        let app = AppParts::new(environ)?;
        let query = if include_query {
            environ.get("QUERY_STRING").filter(|q| !q.is_empty())
        } else {
            None
        };
        Ok(Self {
            app,
            path_info: environ.get("PATH_INFO").unwrap_or_default(),
            drop_first: environ.get("SCRIPT_NAME").is_none_or(<[u8]>::is_empty),
            query,
        })
    }
}

/// Bytes `quote(..., safe='/')` leaves alone besides `A-Z a-z 0-9 _ . - ~`.
const SCRIPT_NAME_SAFE: &[u8] = b"/";
/// Bytes `quote(..., safe='/;=,')` leaves alone besides `A-Z a-z 0-9 _ . - ~`.
const PATH_INFO_SAFE: &[u8] = b"/;=,";

/// Writes `bytes` as latin-1 text: one character per byte.
fn write_latin1<W: fmt::Write + ?Sized>(out: &mut W, bytes: &[u8]) -> fmt::Result {
    let mut rest = bytes;
    loop {
        let ascii = rest
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at_checked(ascii).ok_or(fmt::Error)?;
        out.write_str(core::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
        let Some((&byte, tail)) = tail.split_first() else {
            return Ok(());
        };
        out.write_char(char::from(byte))?;
        rest = tail;
    }
}

/// Writes `bytes` as `urllib.parse.quote(bytes.decode('latin1'), safe, encoding='latin1')`:
/// every byte outside `A-Z a-z 0-9 _ . - ~` and `safe` becomes `%XX` (upper-case hex).
fn write_quoted<W: fmt::Write + ?Sized>(out: &mut W, bytes: &[u8], safe: &[u8]) -> fmt::Result {
    let is_safe = |b: &u8| b.is_ascii_alphanumeric() || b"_.-~".contains(b) || safe.contains(b);
    let mut rest = bytes;
    loop {
        let run_len = rest.iter().position(|b| !is_safe(b)).unwrap_or(rest.len());
        let (run, tail) = rest.split_at_checked(run_len).ok_or(fmt::Error)?;
        out.write_str(core::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
        let Some((&byte, tail)) = tail.split_first() else {
            return Ok(());
        };
        write!(out, "%{byte:02X}")?;
        rest = tail;
    }
}

/// Passes text on without its first character (Python's `s[1:]` on formatted output).
struct SkipFirstChar<'w, W: ?Sized> {
    inner: &'w mut W,
    pending: bool,
}

impl<W: fmt::Write + ?Sized> fmt::Write for SkipFirstChar<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.pending {
            let mut chars = s.chars();
            if chars.next().is_some() {
                self.pending = false;
            }
            self.inner.write_str(chars.as_str())
        } else {
            self.inner.write_str(s)
        }
    }
}

/// `a.split('/', 1)` when there is a `/`.
fn split_once_slash(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == b'/')?;
    let (head, tail) = s.split_at_checked(at)?;
    Some((head, tail.get(1..)?))
}

/// `a.rsplit('/', 1)` when there is a `/`.
fn rsplit_once_slash(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = s.iter().rposition(|&b| b == b'/')?;
    let (head, tail) = s.split_at_checked(at)?;
    Some((head, tail.get(1..)?))
}

/// Writes into a slice whose needed length was computed beforehand.
struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// `PATH_INFO` split as `shift_path_info` does: `parts = path_info.split('/')`, with the
/// empty and `.` parts among `parts[1:-1]` dropped, and `name = parts[1]` taken out.
#[derive(Clone, Copy, Debug)]
struct PathSplit<'p> {
    /// `parts[0]`.
    first: &'p [u8],
    /// The text between the first and the last `/`, when there are two of them.
    interior: Option<&'p [u8]>,
    /// `parts[-1]`.
    last: &'p [u8],
    /// The shifted segment.
    name: &'p [u8],
    /// `name` is `parts[-1]` (no interior part was kept).
    name_is_last: bool,
}

impl<'p> PathSplit<'p> {
    /// `None` when `path_info` has no `/` (Python's `IndexError`).
    fn new(path_info: &'p [u8]) -> Option<Self> {
        let (first, rest) = split_once_slash(path_info)?;
        let (interior, last) = match rsplit_once_slash(rest) {
            Some((interior, last)) => (Some(interior), last),
            None => (None, rest),
        };
        let mut split = Self {
            first,
            interior,
            last,
            name: last,
            name_is_last: true,
        };
        if let Some(name) = split.kept().next() {
            split.name = name;
            split.name_is_last = false;
        }
        Some(split)
    }

    /// The interior parts that survive: not empty, not `.`.
    fn kept(&self) -> impl Iterator<Item = &'p [u8]> + use<'p> {
        self.interior
            .into_iter()
            .flat_map(|i| i.split(|&b| b == b'/'))
            .filter(|s| !s.is_empty() && *s != b".")
    }

    /// The parts of the new `PATH_INFO` after `parts[0]`.
    fn rest(&self) -> impl Iterator<Item = &'p [u8]> + use<'p> {
        let last = (!self.name_is_last).then_some(self.last);
        self.kept().skip(1).chain(last)
    }

    /// The length of the new `PATH_INFO`, `'/'.join(parts)`.
    fn path_len(&self) -> usize {
        self.first.len() + self.rest().map(|s| 1 + s.len()).sum::<usize>()
    }

    fn write_path(&self, out: &mut [u8]) {
        let mut out = Out { buf: out, pos: 0 };
        out.put(self.first);
        for part in self.rest() {
            out.put(b"/");
            out.put(part);
        }
    }
}

/// The new `SCRIPT_NAME`: `posixpath.normpath(script_name + '/' + name)`, one trailing `/`
/// stripped, and `/` appended when `name` is empty and it does not end with one.
///
/// The result is `'/' * prefix`, then `.` if `dot`, then `'..'` `ups` times and the kept
/// components (joined with `/`), then `/` if `trailing`.
#[derive(Clone, Copy, Debug)]
struct ScriptName<'p> {
    script_name: &'p [u8],
    name: &'p [u8],
    prefix: usize,
    dot: bool,
    /// Unmatched leading `..` of a relative path.
    ups: usize,
    /// Number of kept components and the length of them joined with `/`.
    kept: (usize, usize),
    trailing: bool,
}

impl<'p> ScriptName<'p> {
    fn new(script_name: &'p [u8], name: &'p [u8]) -> Self {
        let mut joined = script_name.iter().chain(b"/").chain(name);
        // normpath keeps exactly two leading slashes; one or three and more become one.
        let initial = match (joined.next(), joined.next(), joined.next()) {
            (Some(b'/'), Some(b'/'), Some(b'/')) => 1,
            (Some(b'/'), Some(b'/'), _) => 2,
            (Some(b'/'), _, _) => 1,
            _ => 0,
        };
        let mut this = Self {
            script_name,
            name,
            prefix: initial,
            dot: false,
            ups: 0,
            kept: (0, 0),
            trailing: false,
        };
        let mut kept = (0, 0);
        let pending = this.for_each_kept_rev(|seg| {
            kept = (kept.0 + 1, kept.1 + seg.len() + usize::from(kept.0 > 0));
        });
        this.kept = kept;
        // At the root of an absolute path `..` is dropped; a relative path keeps it.
        this.ups = if initial > 0 { 0 } else { pending };
        if this.ups == 0 && kept.0 == 0 {
            if initial > 0 {
                // normpath gave '/' or '//': strip one slash.
                this.prefix = initial - 1;
                this.trailing = name.is_empty() && this.prefix == 0;
            } else {
                // normpath gave '.'.
                this.dot = true;
                this.trailing = name.is_empty();
            }
        } else {
            this.trailing = name.is_empty();
        }
        this
    }

    /// Calls `f` with the components normpath keeps, last first; returns the number of
    /// `..` left unmatched at the front.
    fn for_each_kept_rev(&self, mut f: impl FnMut(&'p [u8])) -> usize {
        let mut pending = 0;
        let segments = core::iter::once(self.name).chain(self.script_name.rsplit(|&b| b == b'/'));
        for seg in segments {
            match seg {
                b"" | b"." => {}
                b".." => pending += 1,
                _ if pending > 0 => pending -= 1,
                _ => f(seg),
            }
        }
        pending
    }

    fn ups_len(&self) -> usize {
        (3 * self.ups).saturating_sub(1)
    }

    fn len(&self) -> usize {
        let between = usize::from(self.ups > 0 && self.kept.0 > 0);
        self.prefix
            + usize::from(self.dot)
            + self.ups_len()
            + between
            + self.kept.1
            + usize::from(self.trailing)
    }

    fn write(&self, buf: &mut [u8]) {
        let mut out = Out { buf, pos: 0 };
        for _ in 0..self.prefix {
            out.put(b"/");
        }
        if self.dot {
            out.put(b".");
        }
        for i in 0..self.ups {
            out.put(if i == 0 { b".." } else { b"/.." });
        }
        if self.ups > 0 && self.kept.0 > 0 {
            out.put(b"/");
        }
        // The kept components arrive last first: fill their region from its end.
        let start = out.pos;
        let mut end = start + self.kept.1;
        let mut first = true;
        self.for_each_kept_rev(|seg| {
            if !first {
                end -= 1;
                if let Some(b) = out.buf.get_mut(end) {
                    *b = b'/';
                }
            }
            first = false;
            end -= seg.len();
            if let Some(dst) = out.buf.get_mut(end..end + seg.len()) {
                dst.copy_from_slice(seg);
            }
        });
        out.pos = start + self.kept.1;
        if self.trailing {
            out.put(b"/");
        }
    }
}

/// Moves one path segment from `PATH_INFO` to `SCRIPT_NAME` and returns it
/// (`wsgiref.util.shift_path_info`).
///
/// As Python: the interior empty and `.` segments of `PATH_INFO` are dropped (the first and
/// last segment are kept as they are, `..` is never dropped); the first remaining segment
/// after the leading one is the name; `SCRIPT_NAME` becomes
/// `posixpath.normpath(SCRIPT_NAME + '/' + name)` without one trailing `/`, plus `/` when
/// the name is empty; `PATH_INFO` becomes the other segments joined with `/`. Both are set
/// (created if absent). The name is returned, except `None` when `PATH_INFO` is absent or
/// empty (the environ is then untouched) and when the name is `.` (the environ is then
/// updated all the same).
///
/// No allocation: the new `SCRIPT_NAME` and `PATH_INFO` are built in `scratch` (which must
/// hold both; `..` excepted, the returned name is the tail of the new `SCRIPT_NAME` there)
/// and then copied into the environ's arena with [`Environ::set`]. A value that is not a
/// string ([`Environ::get`] gives `None`) counts as absent.
///
/// # Errors
/// Nothing changes on these:
/// * [`LocalError::BufferTooSmall`] when `scratch` is shorter than `needed` (the new
///   `SCRIPT_NAME` plus the new `PATH_INFO`);
/// * [`LocalError::InvalidState`] when `PATH_INFO` is non-empty but has no `/`, where
///   Python raises `IndexError` (`parts[1]` of a one-element list).
///
/// [`LocalError::CapacityExceeded`] when the arena cannot hold the new values:
/// `SCRIPT_NAME` is set first, and if that fails nothing changed; if `PATH_INFO` then
/// fails, `SCRIPT_NAME` has already been replaced. Setting `PATH_INFO` can only fail when
/// it has not been set through the arena before (replacing an arena value with the
/// shorter new one always fits), so give the arena room for one `PATH_INFO` to be safe.
///
/// ```
/// use wsgiref::Environ;
/// use wsgiref::util::shift_path_info;
///
/// let pairs: &[(&str, &[u8])] = &[("SCRIPT_NAME", b"/a"), ("PATH_INFO", b"/x//y/")];
/// let mut arena = [0u8; 128];
/// let mut env = Environ::from_pairs(pairs, &mut arena);
/// let mut scratch = [0u8; 64];
/// assert_eq!(shift_path_info(&mut env, &mut scratch), Ok(Some(&b"x"[..])));
/// assert_eq!(env.get("SCRIPT_NAME"), Some(&b"/a/x"[..]));
/// assert_eq!(env.get("PATH_INFO"), Some(&b"/y/"[..]));
///
/// let mut small = [0u8; 4];
/// assert_eq!(
///     shift_path_info(&mut env, &mut small),
///     Err(wsgiref::LocalError::BufferTooSmall { needed: 7 }) // "/a/x/y" and "/"
/// );
/// ```
pub fn shift_path_info<'s>(
    environ: &mut Environ<'_>,
    scratch: &'s mut [u8],
) -> Result<Option<&'s [u8]>, LocalError> {
    let (sn_len, needed, name) = {
        let path_info = environ.get("PATH_INFO").unwrap_or_default();
        if path_info.is_empty() {
            return Ok(None);
        }
        let split = PathSplit::new(path_info).ok_or(LocalError::InvalidState)?;
        let script = ScriptName::new(environ.get("SCRIPT_NAME").unwrap_or_default(), split.name);
        let sn_len = script.len();
        let needed = sn_len + split.path_len();
        let too_small = LocalError::BufferTooSmall { needed };
        let out = scratch.get_mut(..needed).ok_or(too_small)?;
        let (sn_out, pi_out) = out.split_at_mut_checked(sn_len).ok_or(too_small)?;
        script.write(sn_out);
        split.write_path(pi_out);
        let name = match split.name {
            b"." => Name::Dot,
            b".." => Name::DotDot,
            b"" => Name::Empty,
            name => Name::Tail(name.len()),
        };
        (sn_len, needed, name)
    };
    let scratch: &'s [u8] = scratch;
    let too_small = LocalError::BufferTooSmall { needed };
    let (script_name, path_info) = scratch
        .get(..needed)
        .and_then(|s| s.split_at_checked(sn_len))
        .ok_or(too_small)?;
    environ.set_both(("SCRIPT_NAME", script_name), ("PATH_INFO", path_info))?;
    Ok(match name {
        Name::Dot => None,
        Name::DotDot => Some(b".."),
        Name::Empty => Some(b""),
        // A plain name is the last component normpath keeps: the tail of SCRIPT_NAME.
        Name::Tail(len) => script_name.get(sn_len.saturating_sub(len)..),
    })
}

/// What `shift_path_info` returns, decided before the environ changes.
#[derive(Clone, Copy, Debug)]
enum Name {
    Dot,
    DotDot,
    Empty,
    /// A plain segment of this length, the tail of the new `SCRIPT_NAME`.
    Tail(usize),
}

/// The longest `SERVER_NAME` [`setup_testing_defaults`] can copy into `HTTP_HOST`.
const HOST_COPY_MAX: usize = 256;

/// Fills in a minimal environ for tests (`wsgiref.util.setup_testing_defaults`): each
/// default is set only when the key is absent (Python's `dict.setdefault`; a key present
/// with any value is kept), in Python's order:
///
/// 1. `SERVER_NAME` `127.0.0.1`, `SERVER_PROTOCOL` `HTTP/1.0`;
/// 2. `HTTP_HOST` the (now present) `SERVER_NAME`, `REQUEST_METHOD` `GET`;
/// 3. only if neither `SCRIPT_NAME` nor `PATH_INFO` is present: `SCRIPT_NAME` empty and
///    `PATH_INFO` `/`;
/// 4. `wsgi.version` [`Value::Version(1, 0)`](Value::Version); `wsgi.run_once`,
///    `wsgi.multithread`, `wsgi.multiprocess` [`Value::Bool(false)`](Value::Bool)
///    (Python sets the integer `0`; this environ's flags are booleans);
/// 5. `wsgi.url_scheme` from [`guess_scheme`];
/// 6. `SERVER_PORT` `80` if `wsgi.url_scheme` is `http`, `443` if it is `https`, nothing
///    for another scheme.
///
/// Python also sets `wsgi.input` (an empty `BytesIO`) and `wsgi.errors` (a `StringIO`).
/// They are not environ values in this port: the request body and the error stream belong
/// to the application interface (see [`Exchange::poll_body`](crate::Exchange::poll_body)),
/// so they are skipped. `QUERY_STRING` is not set, as in Python.
///
/// # Errors
/// [`LocalError::CapacityExceeded`] when the arena is full (the defaults set before that
/// one stay), or when `HTTP_HOST` must be copied from a `SERVER_NAME` longer than 256
/// bytes (copied through a stack buffer, as the environ cannot lend a value to itself).
///
/// ```
/// use wsgiref::{Environ, Value};
/// use wsgiref::util::setup_testing_defaults;
///
/// let pairs: &[(&str, &[u8])] = &[("HTTPS", b"on")];
/// let mut arena = [0u8; 512];
/// let mut env = Environ::from_pairs(pairs, &mut arena);
/// setup_testing_defaults(&mut env).unwrap();
/// assert_eq!(env.get("HTTP_HOST"), Some(&b"127.0.0.1"[..]));
/// assert_eq!(env.get("wsgi.url_scheme"), Some(&b"https"[..]));
/// assert_eq!(env.get("SERVER_PORT"), Some(&b"443"[..]));
/// assert_eq!(env.value("wsgi.version"), Some(Value::Version(1, 0)));
/// assert_eq!(env.value("wsgi.run_once"), Some(Value::Bool(false)));
/// ```
pub fn setup_testing_defaults(environ: &mut Environ<'_>) -> Result<(), LocalError> {
    set_default(environ, "SERVER_NAME", Value::Str(b"127.0.0.1"))?;
    set_default(environ, "SERVER_PROTOCOL", Value::Str(b"HTTP/1.0"))?;
    if !environ.contains("HTTP_HOST") {
        let mut copy = [0u8; HOST_COPY_MAX];
        let host = match environ.value("SERVER_NAME") {
            Some(Value::Str(name)) => {
                let dst = copy
                    .get_mut(..name.len())
                    .ok_or(LocalError::CapacityExceeded)?;
                dst.copy_from_slice(name);
                Some(name.len())
            }
            _ => None,
        };
        match host {
            Some(len) => {
                let host = copy.get(..len).ok_or(LocalError::CapacityExceeded)?;
                environ.set("HTTP_HOST", host)?;
            }
            None => {
                if let Some(value) = environ.value("SERVER_NAME").and_then(scalar) {
                    environ.set_value("HTTP_HOST", value)?;
                }
            }
        }
    }
    set_default(environ, "REQUEST_METHOD", Value::Str(b"GET"))?;
    if !environ.contains("SCRIPT_NAME") && !environ.contains("PATH_INFO") {
        environ.set("SCRIPT_NAME", b"")?;
        environ.set("PATH_INFO", b"/")?;
    }
    set_default(environ, "wsgi.version", Value::Version(1, 0))?;
    set_default(environ, "wsgi.run_once", Value::Bool(false))?;
    set_default(environ, "wsgi.multithread", Value::Bool(false))?;
    set_default(environ, "wsgi.multiprocess", Value::Bool(false))?;
    let scheme = guess_scheme(environ);
    set_default(environ, "wsgi.url_scheme", Value::Str(scheme.as_bytes()))?;
    let port: Option<&[u8]> = match environ.get("wsgi.url_scheme") {
        Some(b"http") => Some(b"80"),
        Some(b"https") => Some(b"443"),
        _ => None,
    };
    if let Some(port) = port {
        set_default(environ, "SERVER_PORT", Value::Str(port))?;
    }
    Ok(())
}

/// `environ.setdefault(key, value)`.
fn set_default(environ: &mut Environ<'_>, key: &str, value: Value<'_>) -> Result<(), LocalError> {
    if environ.contains(key) {
        Ok(())
    } else {
        environ.set_value(key, value)
    }
}

/// A value that borrows nothing, detached from the environ it was read from.
fn scalar(value: Value<'_>) -> Option<Value<'static>> {
    match value {
        Value::Bool(b) => Some(Value::Bool(b)),
        Value::Version(major, minor) => Some(Value::Version(major, minor)),
        Value::Str(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPython `UtilityTests.testHopByHop`.
    #[test]
    fn hop_by_hop_vectors() {
        let table: &[(&str, bool)] = &[
            ("Connection", true),
            ("keep-alive", true),
            ("proxy-authenticate", true),
            ("proxy-authorization", true),
            ("te", true),
            ("trailers", true),
            ("transfer-encoding", true),
            ("upgrade", true),
            ("UPGRADE", true),
            ("content-type", false),
            ("Content-Length", false),
            ("Date", false),
            ("Server", false),
        ];
        for (name, want) in table {
            assert_eq!(is_hop_by_hop(name), *want, "{name}");
        }
    }

    #[test]
    fn response_names() {
        use ResponseName::{ContentLength, Date, HopByHop, Other, Server};
        let table: &[(&str, ResponseName)] = &[
            ("Content-Length", ContentLength),
            ("content-LENGTH", ContentLength),
            ("Content-Lengths", Other),
            ("Content-Lengt", Other),
            ("Date", Date),
            ("DATE", Date),
            ("Dates", Other),
            ("Server", Server),
            ("server", Server),
            ("Servers", Other),
            ("TE", HopByHop),
            ("Keep-Alive", HopByHop),
            ("Connection", HopByHop),
            ("Connectiom", Other),
            ("Proxy-Authenticate", HopByHop),
            ("Proxy-Authorization", HopByHop),
            ("Transfer-Encoding", HopByHop),
            ("Trailers", HopByHop),
            ("Upgrade", HopByHop),
            ("Content-Type", Other),
            ("", Other),
            ("X", Other),
            ("TEDate", Other),
            ("e", Other),
        ];
        for (name, want) in table {
            assert_eq!(ResponseName::of(name), *want, "{name}");
        }
    }
}
