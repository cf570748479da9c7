//! The response lifecycle of `wsgiref.handlers.BaseHandler`: `start_response`, body writes,
//! `finish`, and the error output, in origin-server or CGI output mode.
//!
//! The status and headers are validated and written into the transmit buffer when
//! `start_response` is called, but sent only with the first non-empty body block (PEP 3333).
//! At that moment the framing is chosen ([`OutFraming`]) and the framing and persistence
//! headers are appended. Body bytes never pass through the transmit buffer: a write returns
//! a [`Transmit`] of three pieces (head, the caller's body slice, a static tail).

use core::cell::RefCell;
use core::fmt;

use crate::app::{
    AppError, Application, Body, FileSource, InputError, Request, ResponseHeaders, ResponseStart,
    StartResponse,
};
use crate::date::{Clock, DATE_LEN};
use crate::environ::Environ;
use crate::framing::Version;
use crate::time::Instant;
use crate::util::ResponseName;
use crate::write::{Cursor, reason_phrase};
use crate::{LocalError, RemoteError, abnf, util};

/// Whether the output is an HTTP response or CGI script output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum OutputMode {
    /// An origin server: `HTTP/1.1 200 OK` status line, `Date` and `Server` headers,
    /// framing headers (`BaseHandler.origin_server = True`).
    #[default]
    Origin,
    /// A CGI script: a `Status: 200 OK` line, no `Date`/`Server`, no chunking; the web server
    /// frames the response (`origin_server = False`).
    Cgi,
}

/// Bytes to send, in order: `head`, then `body`, then `tail`. Write all three (a vectored
/// write where the platform has one) before calling into the core again.
///
/// `head` holds a status line and headers and/or chunk framing from the transmit buffer,
/// `body` is exactly the slice the application passed (never copied), `tail` is static
/// framing such as the CRLF that ends a chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "the bytes must be sent"]
pub struct Transmit<'a> {
    /// Status line, headers and/or chunk header.
    pub head: &'a [u8],
    /// Body bytes, passed through from the caller.
    pub body: &'a [u8],
    /// Trailing framing.
    pub tail: &'static [u8],
}

impl<'a> Transmit<'a> {
    /// Total number of bytes to send.
    #[must_use]
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len() + self.tail.len()
    }

    /// Is there nothing to send?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The three pieces, for a vectored write.
    #[must_use]
    pub fn pieces(&self) -> [&'a [u8]; 3] {
        [self.head, self.body, self.tail]
    }
}

/// How the response body is delimited on the wire, chosen when the head is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OutFraming {
    /// `Content-Length`; this many octets may still be sent.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length known and no chunking (HTTP/1.0 client, or CGI): the end of the body is
    /// the end of the connection (or of the CGI output).
    UntilClose,
    /// The response has no body (HEAD, 1xx, 204, 304): body bytes are not sent.
    NoBody,
}

/// Where the response is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResponsePhase {
    /// `start_response` not called yet.
    Idle,
    /// Status and headers are validated and waiting in the transmit buffer.
    Started,
    /// The head has been handed out for sending; the body is streaming.
    Committed(OutFraming),
    /// The response is complete.
    Finished,
}

/// What the response side needs to know about the request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestFacts {
    pub(crate) head_method: bool,
    pub(crate) version: Version,
    /// The client wants the connection to persist and nothing prevents it so far.
    pub(crate) keep_alive: bool,
}

/// Response-side settings (part of the connection's configuration).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResponseConfig<'a> {
    pub(crate) mode: OutputMode,
    pub(crate) server_software: &'a str,
    pub(crate) http11: bool,
    /// The writer owns a persistent connection: it may chunk and it writes `Connection`
    /// headers. A standalone writer (SimpleHandler, CGI) does neither, as CPython.
    pub(crate) manage_connection: bool,
    /// The error output for application errors.
    pub(crate) error: &'a ErrorOutput<'a>,
}

/// The fixed body of the error output (`BaseHandler.error_body`).
pub const ERROR_BODY: &[u8] = b"A server error occurred.  Please contact the administrator.";

/// The response sent when an application fails before its head is sent
/// (`BaseHandler.error_status`, `error_headers`, `error_body`). No diagnostics are in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorOutput<'a> {
    /// `error_status`.
    pub status: &'a str,
    /// `error_headers`.
    pub headers: &'a [(&'a str, &'a str)],
    /// `error_body`.
    pub body: &'a [u8],
}

impl ErrorOutput<'_> {
    /// CPython's defaults: `500 Internal Server Error`, `Content-Type: text/plain`, and
    /// [`ERROR_BODY`].
    pub const DEFAULT: ErrorOutput<'static> = ErrorOutput {
        status: "500 Internal Server Error",
        headers: &[("Content-Type", "text/plain")],
        body: ERROR_BODY,
    };
}

impl Default for ErrorOutput<'_> {
    fn default() -> Self {
        ErrorOutput::DEFAULT
    }
}

/// The response state machine. Every transition of the response side is in this type.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Response {
    pub(crate) phase: ResponsePhase,
    status: u16,
    /// Content-Length the application declared, if `has_declared` ([`Response::declared`]; a
    /// flag beside the other small fields instead of an `Option<u64>` keeps this struct, in
    /// every connection's state, 8 bytes smaller).
    declared: u64,
    has_declared: bool,
    /// Valid head bytes waiting in the transmit buffer.
    pending: usize,
    /// The connection must close after this response.
    pub(crate) must_close: bool,
    /// The response was cut short after its head went out, with a body that only the close
    /// delimits: see [`crate::Connection::must_reset`].
    pub(crate) cut_short: bool,
    /// CGI output: the application's head has a Content-Length that is not one number of
    /// octets, passed on as it is (so the writer adds none of its own, and bounds nothing).
    unbounded_length: bool,
    /// Body octets sent (for the access log).
    pub(crate) body_sent: u64,
}

impl Response {
    pub(crate) const fn new() -> Self {
        Self {
            phase: ResponsePhase::Idle,
            status: 0,
            declared: 0,
            has_declared: false,
            pending: 0,
            must_close: false,
            cut_short: false,
            unbounded_length: false,
            body_sent: 0,
        }
    }

    /// The status code given to `start_response` (0 before).
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The Content-Length the application declared, if it did.
    pub(crate) fn declared(&self) -> Option<u64> {
        self.has_declared.then_some(self.declared)
    }

    /// Is a body that only the close delimits under way (head out, response unfinished)?
    pub(crate) fn mid_close_delimited(&self) -> bool {
        self.phase == ResponsePhase::Committed(OutFraming::UntilClose)
    }

    /// Has the head been handed out for sending?
    pub(crate) fn headers_sent(&self) -> bool {
        matches!(
            self.phase,
            ResponsePhase::Committed(_) | ResponsePhase::Finished
        )
    }

    /// `start_response(status, headers)`, or with `replace` the `exc_info` form: allowed
    /// again only while the head has not been sent.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start<'h, I, N, V>(
        &mut self,
        tx: &mut [u8],
        cfg: &ResponseConfig<'_>,
        unix_time: Option<Clock>,
        status: &str,
        headers: I,
        replace: bool,
    ) -> Result<(), LocalError>
    where
        I: IntoIterator<Item = &'h (N, V)>,
        I::IntoIter: Clone,
        N: AsRef<str> + 'h,
        V: AsRef<[u8]> + 'h,
    {
        let headers = HeaderIter(headers.into_iter());
        self.start_list(tx, cfg, unix_time, status.as_bytes(), &headers, replace)
    }

    /// [`Response::start`] with an application's header list as it is (text or bytes).
    pub(crate) fn start_headers(
        &mut self,
        tx: &mut [u8],
        cfg: &ResponseConfig<'_>,
        unix_time: Option<Clock>,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        self.start_list(tx, cfg, unix_time, status.as_bytes(), &headers, replace)
    }

    /// [`Response::start`] for any header list: one copy of the code whatever the
    /// application's header type (the generic part is only the loop of [`HeaderIter`]).
    #[allow(clippy::too_many_arguments)]
    fn start_list(
        &mut self,
        tx: &mut [u8],
        cfg: &ResponseConfig<'_>,
        unix_time: Option<Clock>,
        status: &[u8],
        headers: &dyn HeaderList,
        replace: bool,
    ) -> Result<(), LocalError> {
        match self.phase {
            ResponsePhase::Idle => {}
            ResponsePhase::Started if replace => {}
            ResponsePhase::Started => return Err(LocalError::AlreadyStarted),
            ResponsePhase::Committed(_) | ResponsePhase::Finished if replace => {
                return Err(LocalError::HeadersAlreadySent);
            }
            ResponsePhase::Committed(_) | ResponsePhase::Finished => {
                return Err(LocalError::AlreadyStarted);
            }
        }
        let code = check_status(status)?;
        // On the wire, a final status (RFC 9110 §15): a 1xx is interim (WSGI has no
        // interim responses; the gateway sends the `100 Continue` itself), and an exchange
        // that ended on one would leave the client waiting for the real answer, taking the
        // next response on the connection for it. Codes outside 100..=599 are not HTTP's.
        // A CGI script's `Status:` is the web server's to judge: any code, as CPython.
        if cfg.mode == OutputMode::Origin && !(200..=599).contains(&code) {
            return Err(LocalError::BadStatus);
        }
        // RFC 9110 §8.6: no Content-Length in a 1xx or 204 response; the gateway owns the
        // framing, so an application's is dropped rather than sent. A 205 on HTTP gets the
        // gateway's `Content-Length: 0` (see `commit`).
        let no_length =
            matches!(code, 100..=199 | 204) || (code == 205 && cfg.mode == OutputMode::Origin);
        let status_len = match cfg.mode {
            // `HTTP/1.x ` + status + CRLF.
            OutputMode::Origin => 9 + status.len() + 2,
            // `Status: ` + status + CRLF.
            OutputMode::Cgi => 8 + status.len() + 2,
        };
        let date_len = field_len(b"Date", &[0; DATE_LEN]);
        let server_software = cfg.server_software.as_bytes();
        let server_len = field_len(b"Server", server_software);
        let origin = cfg.mode == OutputMode::Origin;
        // The `Date` and `Server` fields the gateway adds when the application has none.
        let added = |fields: &Fields| {
            let date = (!fields.has_date && origin).then_some(unix_time).flatten();
            let server = (!fields.has_server && origin && !server_software.is_empty())
                .then_some(server_software);
            let len = status_len + date.map_or(0, |_| date_len) + server.map_or(0, |_| server_len);
            (date, server, len)
        };
        // One walk over the application's list checks each field and writes it after the
        // room the status line, `Date` and `Server` may take; the line and the fields the
        // gateway adds go in front of them afterwards. A replacement head
        // (`restart_response`) is written after the pending one, so that one stays intact
        // if the new one fails (unlike CPython, gh-150726).
        let base = if self.phase == ResponsePhase::Started {
            self.pending
        } else {
            0
        };
        // The most the line and the added fields can take: an application with neither.
        let (_, _, room) = added(&Fields::default());
        let mut fields = Fields::default();
        let from = base + room;
        let mut fits = from <= tx.len();
        let mut out = Cursor::new(tx, from);
        walk_fields(
            headers,
            &mut fields,
            &mut out,
            &mut fits,
            cfg.mode,
            no_length,
            false,
        )?;
        let (date, server, line_len) = added(&fields);
        let needed = line_len + fields.len;
        if needed > tx.len() {
            return Err(LocalError::BufferTooSmall { needed });
        }
        let fields_written = if fits {
            // Down to the front, behind the line and the added fields (both ranges are in
            // the buffer: every field was written there, and `needed` fits).
            let (src, dst) = (from..from + fields.len, line_len..needed);
            if from != line_len && tx.get(src.clone()).is_some() && tx.get(dst).is_some() {
                tx.copy_within(src, line_len);
            }
            Ok(fields.len)
        } else {
            // It fits only where a pending head is, or in the room the fields left (the
            // application set `Date` or `Server`): a second walk writes it in place, and
            // must meet the same checks and lengths (an application's iterator whose clones
            // differ breaks the contract of `start_response`); otherwise no head is left.
            let mut again = Fields::default();
            let room = tx.get_mut(..needed).ok_or(LocalError::InvalidState)?;
            let mut out = Cursor::new(room, line_len);
            let mut all = true;
            walk_fields(
                headers, &mut again, &mut out, &mut all, cfg.mode, no_length, true,
            )
            .and_then(|()| {
                if again == fields {
                    Ok(out.pos() - line_len)
                } else {
                    Err(LocalError::InvalidState)
                }
            })
        };
        let written = fields_written.and_then(|len| {
            Self::write_line(tx.get_mut(..line_len), cfg, status, date, server).map(|n| n + len)
        });
        if written != Ok(needed) {
            *self = Self {
                phase: ResponsePhase::Idle,
                status: 0,
                has_declared: false,
                unbounded_length: false,
                pending: 0,
                ..*self
            };
            return Err(written.err().unwrap_or(LocalError::InvalidState));
        }
        let Fields {
            declared,
            cgi_unbounded,
            ..
        } = fields;
        *self = Self {
            phase: ResponsePhase::Started,
            status: code,
            declared: declared.unwrap_or(0),
            has_declared: declared.is_some() && !no_length && !cgi_unbounded,
            unbounded_length: cgi_unbounded && !no_length,
            pending: needed,
            ..*self
        };
        Ok(())
    }

    /// Writes a head's status line and the `Date` and `Server` fields the gateway adds into
    /// `room`; returns the length written.
    fn write_line(
        room: Option<&mut [u8]>,
        cfg: &ResponseConfig<'_>,
        status: &[u8],
        date: Option<Clock>,
        server: Option<&[u8]>,
    ) -> Result<usize, LocalError> {
        let mut out = Cursor::new(room.ok_or(LocalError::InvalidState)?, 0);
        match cfg.mode {
            OutputMode::Origin => {
                let version: &[u8] = if cfg.http11 {
                    b"HTTP/1.1 "
                } else {
                    b"HTTP/1.0 "
                };
                out.put_all(&[version, status, b"\r\n"])?;
            }
            OutputMode::Cgi => out.put_all(&[b"Status: ", status, b"\r\n"])?,
        }
        if let Some(t) = date {
            out.put_field(b"Date", &t.date())?;
        }
        if let Some(server) = server {
            out.put_field(b"Server", server)?;
        }
        Ok(out.pos())
    }

    /// Appends the framing and persistence headers and the blank line; chooses the framing.
    /// `whole` is the length of the body when the caller knows it is the whole body.
    fn commit(
        &mut self,
        tx: &mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
        whole: Option<u64>,
    ) -> Result<OutFraming, LocalError> {
        if self.phase != ResponsePhase::Started {
            return Err(LocalError::InvalidState);
        }
        let bodyless_status = matches!(self.status, 100..=199 | 204 | 304);
        let mut out = Cursor::new(tx, self.pending);
        let mut digits = [0u8; 20];
        let mut length_field = |n: u64, out: &mut Cursor<'_>| {
            out.put_field(
                b"Content-Length",
                crate::write::format_radix(n, 10, &mut digits),
            )
        };
        let framing = if bodyless_status {
            OutFraming::NoBody
        } else if self.status == 205 && cfg.mode == OutputMode::Origin {
            // RFC 9110 §15.3.6: no content in a 205, and its framing says so (a client
            // reads a 205 without a length to the end of the connection): an application's
            // body is not sent, as for HEAD.
            length_field(0, &mut out)?;
            OutFraming::NoBody
        } else if let Some(n) = self.declared() {
            if req.head_method {
                OutFraming::NoBody
            } else {
                OutFraming::Length(n)
            }
        } else if self.unbounded_length {
            // CGI output with the application's own Content-Length, passed on as it is.
            if req.head_method {
                OutFraming::NoBody
            } else {
                OutFraming::UntilClose
            }
        } else if let Some(n) = whole {
            length_field(n, &mut out)?;
            if req.head_method {
                OutFraming::NoBody
            } else {
                OutFraming::Length(n)
            }
        } else if req.head_method {
            OutFraming::NoBody
        } else if cfg.manage_connection
            && cfg.mode == OutputMode::Origin
            && cfg.http11
            && req.version == Version::Http11
        {
            // Never under an `HTTP/1.0` status line (RFC 9112 §6.1: a 1.0 message with
            // Transfer-Encoding has faulty framing), whatever the client's version.
            out.put_field(b"Transfer-Encoding", b"chunked")?;
            OutFraming::Chunked
        } else {
            OutFraming::UntilClose
        };
        let close = self.must_close || framing == OutFraming::UntilClose || !req.keep_alive;
        if cfg.manage_connection && cfg.mode == OutputMode::Origin {
            if close {
                out.put_field(b"Connection", b"close")?;
            } else if req.version == Version::Http10 || !cfg.http11 {
                // An HTTP/1.0 message persists only if it says so (either side is 1.0).
                out.put_field(b"Connection", b"keep-alive")?;
            }
        }
        out.put(b"\r\n")?;
        self.pending = out.pos();
        self.must_close |= close;
        self.phase = ResponsePhase::Committed(framing);
        Ok(framing)
    }

    /// A body block. Empty blocks before the head is sent send nothing (the head waits for
    /// the first non-empty block). `whole` means this block is the entire body.
    pub(crate) fn write<'a>(
        &mut self,
        tx: &'a mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
        data: &'a [u8],
        whole: bool,
    ) -> Result<Transmit<'a>, LocalError> {
        Ok(match self.frame(tx, cfg, req, data.len() as u64, whole)? {
            None => Transmit::default(),
            Some((true, tail)) => self.take(tx, data, tail),
            Some((false, tail)) => self.take(tx, &[], tail),
        })
    }

    /// Like [`Response::write`] for `len` body bytes the caller sends itself (sendfile):
    /// the transmit holds the head and framing; `true` if the body bytes must be sent
    /// between its `head` and its `tail` (false for bodyless responses).
    pub(crate) fn write_external<'a>(
        &mut self,
        tx: &'a mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
        len: u64,
        whole: bool,
    ) -> Result<(Transmit<'a>, bool), LocalError> {
        Ok(match self.frame(tx, cfg, req, len, whole)? {
            None => (Transmit::default(), false),
            Some((send, tail)) => (self.take(tx, &[], tail), send),
        })
    }

    /// The bookkeeping of one body block of `len` bytes: commits the head if needed,
    /// enforces the Content-Length, writes chunk framing. `None` when nothing is to be sent
    /// (an empty block before the head); else whether to send the bytes, and the tail.
    fn frame(
        &mut self,
        tx: &mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
        len: u64,
        whole: bool,
    ) -> Result<Option<(bool, &'static [u8])>, LocalError> {
        // The response as it was before this block committed its head, if it did.
        let mut before = None;
        let framing = match self.phase {
            ResponsePhase::Idle | ResponsePhase::Finished => return Err(LocalError::InvalidState),
            ResponsePhase::Started if len == 0 && !whole => return Ok(None),
            ResponsePhase::Started if self.declared().is_some_and(|n| len > n) => {
                // Refused before the head is committed, so the error output can still
                // replace this response.
                self.must_close = true;
                return Err(LocalError::BodyTooLong);
            }
            ResponsePhase::Started => {
                before = Some(*self);
                self.commit(tx, cfg, req, whole.then_some(len))?
            }
            ResponsePhase::Committed(f) => f,
        };
        let (send, tail): (bool, &'static [u8]) = match framing {
            OutFraming::Length(remaining) => {
                if len > remaining {
                    self.must_close = true;
                    return Err(LocalError::BodyTooLong);
                }
                self.phase = ResponsePhase::Committed(OutFraming::Length(remaining - len));
                (true, b"")
            }
            OutFraming::Chunked if len == 0 => (true, b""),
            OutFraming::Chunked => {
                let mut out = Cursor::new(tx, self.pending);
                if let Err(e) = out.put_hex(len).and_then(|()| out.put(b"\r\n")) {
                    // The chunk's size line must fit beside a head this block committed, or
                    // nothing counts as committed: no byte is handed out, and the error
                    // output may still replace this response.
                    if let Some(before) = before {
                        *self = before;
                    }
                    return Err(e);
                }
                self.pending = out.pos();
                (true, b"\r\n")
            }
            OutFraming::UntilClose => (true, b""),
            OutFraming::NoBody => (false, b""),
        };
        if send {
            self.body_sent += len;
        }
        Ok(Some((send, tail)))
    }

    /// Completes the response: sends the head if it is still waiting (with
    /// `Content-Length: 0` unless the status has no body) and the last chunk.
    pub(crate) fn finish<'a>(
        &mut self,
        tx: &'a mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
    ) -> Result<Transmit<'a>, LocalError> {
        let framing = match self.phase {
            ResponsePhase::Idle | ResponsePhase::Finished => return Err(LocalError::InvalidState),
            // Nothing was sent: an empty body has length 0, except for HEAD, whose head must
            // not claim a length the GET would not have (RFC 9110 §9.3.2).
            ResponsePhase::Started => {
                let whole = (!req.head_method).then_some(0);
                self.commit(tx, cfg, req, whole)?
            }
            ResponsePhase::Committed(f) => f,
        };
        let tail: &'static [u8] = match framing {
            OutFraming::Chunked => b"0\r\n\r\n",
            OutFraming::Length(remaining) => {
                // Fewer bytes than declared: the client can only tell by the close.
                self.must_close |= remaining > 0;
                b""
            }
            OutFraming::UntilClose => {
                self.must_close = true;
                b""
            }
            OutFraming::NoBody => b"",
        };
        self.phase = ResponsePhase::Finished;
        Ok(self.take(tx, &[], tail))
    }

    /// The error output (`BaseHandler.error_output`): if the head was not sent yet, the
    /// pending response is replaced by `status` with a plain-text body; otherwise nothing
    /// can be said and the connection must close. Either way the response is finished.
    pub(crate) fn fail<'a>(
        &mut self,
        tx: &'a mut [u8],
        cfg: &ResponseConfig<'_>,
        req: &RequestFacts,
        unix_time: Option<Clock>,
        status: u16,
    ) -> Transmit<'a> {
        self.must_close = true;
        if self.headers_sent() {
            // A body the close delimits would look complete after a FIN (RFC 9112 §8): the
            // connection must end with a reset. A length or chunked framing shows the cut.
            self.cut_short |= self.phase == ResponsePhase::Committed(OutFraming::UntilClose);
            self.phase = ResponsePhase::Finished;
            return Transmit::default();
        }
        let mut line = [0u8; 64];
        let (status_line, headers, body): (&[u8], &[(&str, &str)], &[u8]) = if status == 500 {
            (
                cfg.error.status.as_bytes(),
                cfg.error.headers,
                cfg.error.body,
            )
        } else {
            let reason = reason_phrase(status).as_bytes();
            let plain: &[(&str, &str)] = &[("Content-Type", "text/plain")];
            (status_text(status, reason, &mut line), plain, reason)
        };
        self.phase = ResponsePhase::Idle;
        // One header-list type for both, the application's (one copy of its loop); at most
        // 16 fields.
        let headers = ResponseHeaders::Text(headers.get(..16).unwrap_or(headers));
        let started = self.start_list(tx, cfg, unix_time, status_line, &headers, false);
        let result = started.and_then(|()| self.commit(tx, cfg, req, Some(body.len() as u64)));
        self.phase = ResponsePhase::Finished;
        let with_body = result.and_then(|framing| {
            if framing != OutFraming::NoBody {
                let mut out = Cursor::new(tx, self.pending);
                out.put(body)?;
                self.pending = out.pos();
                self.body_sent += body.len() as u64;
            }
            Ok(())
        });
        match with_body {
            Ok(()) => self.take(tx, &[], b""),
            // The transmit buffer cannot hold the error response: close without a word.
            Err(_) => {
                self.pending = 0;
                Transmit::default()
            }
        }
    }

    /// Hands out the pending head bytes with a body and tail.
    fn take<'a>(&mut self, tx: &'a [u8], body: &'a [u8], tail: &'static [u8]) -> Transmit<'a> {
        let head = tx.get(..self.pending).unwrap_or(&[]);
        self.pending = 0;
        Transmit { head, body, tail }
    }
}

/// One walk over an application's header list for [`Response::start_list`]: checks each
/// field into `fields` and writes each one that is written with `out`, while `fits`. A
/// field that does not fit turns `fits` false (nothing more is written), or, if `strict`,
/// is the walk's error. One function for both of `start_list`'s walks: one copy of the
/// closure `each` calls.
fn walk_fields(
    headers: &dyn HeaderList,
    fields: &mut Fields,
    out: &mut Cursor<'_>,
    fits: &mut bool,
    mode: OutputMode,
    no_length: bool,
    strict: bool,
) -> Result<(), LocalError> {
    headers.each(&mut |name, value| {
        if fields.check(name, value, mode, no_length)? && *fits {
            if let Err(e) = out.put_field(name.as_bytes(), value) {
                if strict {
                    return Err(e);
                }
                *fits = false;
            }
        }
        Ok(())
    })
}

/// Response header fields as [`Response::start`] reads them (twice: to validate, then to
/// write), through a `dyn` reference so that its code is not duplicated per header type.
trait HeaderList {
    /// Calls `f` with each field in order; stops at the first error.
    fn each(
        &self,
        f: &mut dyn FnMut(&str, &[u8]) -> Result<(), LocalError>,
    ) -> Result<(), LocalError>;
}

impl HeaderList for ResponseHeaders<'_> {
    fn each(
        &self,
        f: &mut dyn FnMut(&str, &[u8]) -> Result<(), LocalError>,
    ) -> Result<(), LocalError> {
        for (name, value) in self.iter() {
            f(name, value)?;
        }
        Ok(())
    }
}

/// A cloneable iterator of `(name, value)` pairs as a [`HeaderList`].
struct HeaderIter<I>(I);

impl<'h, I, N, V> HeaderList for HeaderIter<I>
where
    I: Iterator<Item = &'h (N, V)> + Clone,
    N: AsRef<str> + 'h,
    V: AsRef<[u8]> + 'h,
{
    fn each(
        &self,
        f: &mut dyn FnMut(&str, &[u8]) -> Result<(), LocalError>,
    ) -> Result<(), LocalError> {
        for (name, value) in self.0.clone() {
            f(name.as_ref(), value.as_ref())?;
        }
        Ok(())
    }
}

/// A response writer without an HTTP connection: CGI output (`BaseCGIHandler`), or any
/// gateway that frames responses itself. Same lifecycle as [`crate::Exchange`].
#[derive(Debug)]
pub struct ResponseWriter<'t> {
    response: Response,
    tx: &'t mut [u8],
    mode: OutputMode,
    server_software: &'t str,
    http11: bool,
    facts: RequestFacts,
    unix_time: Option<Clock>,
    error: ErrorOutput<'t>,
}

impl<'t> ResponseWriter<'t> {
    /// A writer producing `mode` output into `tx` for a request with method `method`
    /// (HEAD gets no body) and protocol `protocol` (`HTTP/1.1` allows chunking in origin
    /// mode).
    pub fn new(tx: &'t mut [u8], mode: OutputMode, method: &[u8], protocol: &[u8]) -> Self {
        let version = if protocol.eq_ignore_ascii_case(b"HTTP/1.0") {
            Version::Http10
        } else {
            Version::Http11
        };
        Self {
            response: Response::new(),
            tx,
            mode,
            server_software: "",
            http11: true,
            facts: RequestFacts {
                head_method: method == b"HEAD",
                version,
                keep_alive: false,
            },
            unix_time: None,
            error: ErrorOutput::DEFAULT,
        }
    }

    /// Sets the error output (`error_status`, `error_headers`, `error_body`).
    pub fn set_error_output(&mut self, error: ErrorOutput<'t>) {
        self.error = error;
    }

    /// Sets the `Server` header value (origin mode; `BaseHandler.server_software`).
    pub fn set_server_software(&mut self, software: &'t str) {
        self.server_software = software;
    }

    /// Writes `HTTP/1.0` status lines instead of `HTTP/1.1` (`BaseHandler.http_version`).
    pub fn set_http10(&mut self) {
        self.http11 = false;
    }

    /// Sets the wall clock (Unix seconds) for the `Date` header in origin mode.
    pub fn set_unix_time(&mut self, unix_secs: u64) {
        self.unix_time = Some(Clock::new(unix_secs));
    }

    /// The response, the buffer, the settings and the request's facts, borrowed apart.
    fn parts(&mut self) -> (&mut Response, &mut [u8], ResponseConfig<'_>, &RequestFacts) {
        let cfg = ResponseConfig {
            mode: self.mode,
            server_software: self.server_software,
            http11: self.http11,
            manage_connection: false,
            error: &self.error,
        };
        (&mut self.response, self.tx, cfg, &self.facts)
    }

    /// `start_response`; with `replace`, the `exc_info` form.
    ///
    /// # Errors
    /// As [`crate::Exchange::start_response`].
    pub fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &[u8])],
        replace: bool,
    ) -> Result<(), LocalError> {
        self.start_headers(status, ResponseHeaders::Bytes(headers), replace)
    }

    /// [`ResponseWriter::start_response`] with an application's header list as it is.
    pub(crate) fn start_headers(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        let unix_time = self.unix_time;
        let (response, tx, cfg, _) = self.parts();
        response.start_headers(tx, &cfg, unix_time, status, headers, replace)
    }

    /// A body block; `whole` when it is the entire body.
    ///
    /// # Errors
    /// As [`crate::Exchange::write`].
    pub fn write<'a>(
        &'a mut self,
        data: &'a [u8],
        whole: bool,
    ) -> Result<Transmit<'a>, LocalError> {
        let (response, tx, cfg, facts) = self.parts();
        response.write(tx, &cfg, facts, data, whole)
    }

    /// Completes the response.
    ///
    /// # Errors
    /// As [`crate::Exchange::finish`].
    pub fn finish(&mut self) -> Result<Transmit<'_>, LocalError> {
        let (response, tx, cfg, facts) = self.parts();
        response.finish(tx, &cfg, facts)
    }

    /// The error output with `status` (500 gives `ERROR_BODY`).
    pub fn fail(&mut self, status: u16) -> Transmit<'_> {
        let unix_time = self.unix_time;
        let (response, tx, cfg, facts) = self.parts();
        response.fail(tx, &cfg, facts, unix_time, status)
    }

    /// Has the head been handed out?
    #[must_use]
    pub fn headers_sent(&self) -> bool {
        self.response.headers_sent()
    }

    /// Was `start_response` called?
    #[must_use]
    pub fn started(&self) -> bool {
        self.response.phase != ResponsePhase::Idle
    }

    /// The status code (0 before `start_response`).
    #[must_use]
    pub fn status(&self) -> u16 {
        self.response.status()
    }

    /// Body bytes sent.
    #[must_use]
    pub fn body_sent(&self) -> u64 {
        self.response.body_sent
    }
}

/// Why a transport operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TransportError {
    /// The peer went away (reset, broken pipe, aborted): ended quietly, nothing logged
    /// (bpo-27682).
    Disconnected,
    /// A socket deadline passed.
    TimedOut,
    /// Any other failure.
    Failed,
}

/// The blocking byte transport a gateway serves over: a socket, stdin/stdout, a test pipe.
pub trait Transport {
    /// Reads into `buf`; `Ok(0)` is the end of input.
    ///
    /// # Errors
    /// The read failed or timed out.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TransportError>;

    /// Sends every byte of `pieces`, in order (a vectored write where possible; partial
    /// writes retried until done).
    ///
    /// # Errors
    /// The write failed.
    fn send(&mut self, pieces: &[&[u8]]) -> Result<(), TransportError>;

    /// The current time, for deadlines.
    fn now(&mut self) -> Instant {
        Instant::from_millis(0)
    }
}

/// The gateway side of one request, as [`run`] drives it.
pub trait Io {
    /// `wsgi.input.read(buf)`.
    ///
    /// # Errors
    /// The body is malformed, too large, timed out or cut short, or the transport failed.
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputError>;
    /// `start_response`.
    ///
    /// # Errors
    /// Invalid status or headers, or not allowed now.
    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError>;
    /// Sends a block (`whole`: the entire body).
    ///
    /// # Errors
    /// As the response writer, or the transport failed.
    fn write(&mut self, data: &[u8], whole: bool) -> Result<(), IoError>;
    /// Completes the response.
    ///
    /// # Errors
    /// As the response writer, or the transport failed.
    fn finish(&mut self) -> Result<(), IoError>;
    /// The error output (`status` if the head is not sent), ending the response.
    ///
    /// # Errors
    /// The transport failed.
    fn fail(&mut self, status: u16) -> Result<(), IoError>;
    /// Has the head been sent?
    fn headers_sent(&self) -> bool;
    /// Was `start_response` called?
    fn started(&self) -> bool;
    /// Status code and body bytes sent, for the access log.
    fn progress(&self) -> (u16, u64);

    /// Sends a whole file body with a platform fast path (`BaseHandler.sendfile`). `None`
    /// (the default) means "not supported here": the handler reads the file in blocks.
    fn send_file(&mut self, _file: &mut dyn FileSource) -> Option<Result<(), IoError>> {
        None
    }

    /// The client went away ([`Outcome::disconnected`]): the response ends unfinished.
    /// [`HttpIo`] closes the connection ([`crate::Exchange::abort`]); the default does
    /// nothing.
    fn abort(&mut self) {}
}

/// A failure while responding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum IoError {
    /// The response side was misused (an application error).
    Local(LocalError),
    /// The transport failed.
    Transport(TransportError),
}

impl From<LocalError> for IoError {
    fn from(e: LocalError) -> Self {
        Self::Local(e)
    }
}

fn send<T: Transport + ?Sized>(transport: &mut T, t: &Transmit<'_>) -> Result<(), IoError> {
    if t.is_empty() {
        return Ok(());
    }
    transport.send(&t.pieces()).map_err(IoError::Transport)
}

/// An HTTP exchange over a transport: what the std server hands to [`run`].
#[derive(Debug)]
pub struct HttpIo<'x, 'c, T: ?Sized> {
    exchange: &'x mut crate::Exchange<'c>,
    transport: &'x mut T,
}

impl<'x, 'c, T: Transport + ?Sized> HttpIo<'x, 'c, T> {
    /// Serves `exchange` over `transport`.
    pub fn new(exchange: &'x mut crate::Exchange<'c>, transport: &'x mut T) -> Self {
        Self {
            exchange,
            transport,
        }
    }

    /// The exchange and the transport, for gateways that extend this one (a sendfile path).
    pub fn parts(&mut self) -> (&mut crate::Exchange<'c>, &mut T) {
        (self.exchange, self.transport)
    }
}

impl<T: Transport + ?Sized> Io for HttpIo<'_, '_, T> {
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        use crate::connection::ReadBody;
        loop {
            let now = self.transport.now();
            match self
                .exchange
                .read_body(buf, now)
                .map_err(InputError::Remote)?
            {
                ReadBody::Data(n) => return Ok(n),
                ReadBody::End => return Ok(0),
                ReadBody::Continue(bytes) => self
                    .transport
                    .send(&[bytes])
                    .map_err(|_| InputError::Io(embedded_io::ErrorKind::BrokenPipe))?,
                ReadBody::NeedData => match self.transport.read(self.exchange.receive_buf()) {
                    Ok(0) => self.exchange.handle_eof(),
                    Ok(n) => self.exchange.handle_received(n),
                    Err(TransportError::TimedOut) => {
                        self.exchange.handle_timeout_now();
                    }
                    Err(_) => return Err(InputError::Io(embedded_io::ErrorKind::ConnectionReset)),
                },
            }
        }
    }

    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        self.exchange.start_headers(status, headers, replace)
    }

    fn write(&mut self, data: &[u8], whole: bool) -> Result<(), IoError> {
        let t = if whole {
            self.exchange.write_whole(data)?
        } else {
            self.exchange.write(data)?
        };
        send(self.transport, &t)
    }

    fn finish(&mut self) -> Result<(), IoError> {
        let t = self.exchange.finish()?;
        send(self.transport, &t)
    }

    fn fail(&mut self, _status: u16) -> Result<(), IoError> {
        let t = self.exchange.fail();
        send(self.transport, &t)
    }

    fn headers_sent(&self) -> bool {
        self.exchange.headers_sent()
    }

    fn started(&self) -> bool {
        self.exchange.status() != 0
    }

    fn progress(&self) -> (u16, u64) {
        (self.exchange.status(), self.exchange.body_sent())
    }

    fn abort(&mut self) {
        self.exchange.abort();
    }
}

/// A CGI request: the body from the transport, bounded by `CONTENT_LENGTH`, and the response
/// through a [`ResponseWriter`] (`BaseCGIHandler` over stdin/stdout).
#[derive(Debug)]
pub struct CgiIo<'x, T: ?Sized> {
    writer: ResponseWriter<'x>,
    transport: &'x mut T,
    remaining: u64,
}

impl<'x, T: Transport + ?Sized> CgiIo<'x, T> {
    /// A CGI gateway reading at most `content_length` body bytes from `transport`.
    pub fn new(writer: ResponseWriter<'x>, transport: &'x mut T, content_length: u64) -> Self {
        Self {
            writer,
            transport,
            remaining: content_length,
        }
    }
}

impl<T: Transport + ?Sized> Io for CgiIo<'_, T> {
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let Some(out) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if out.is_empty() {
            return Ok(0);
        }
        let n = self
            .transport
            .read(out)
            .map_err(|_| InputError::Io(embedded_io::ErrorKind::BrokenPipe))?;
        if n == 0 {
            return Err(InputError::Remote(RemoteError::UnexpectedEof));
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        self.writer.start_headers(status, headers, replace)
    }

    fn write(&mut self, data: &[u8], whole: bool) -> Result<(), IoError> {
        let t = self.writer.write(data, whole)?;
        send(self.transport, &t)
    }

    fn finish(&mut self) -> Result<(), IoError> {
        let t = self.writer.finish()?;
        send(self.transport, &t)
    }

    fn fail(&mut self, status: u16) -> Result<(), IoError> {
        let t = self.writer.fail(status);
        send(self.transport, &t)
    }

    fn headers_sent(&self) -> bool {
        self.writer.headers_sent()
    }

    fn started(&self) -> bool {
        self.writer.started()
    }

    fn progress(&self) -> (u16, u64) {
        (self.writer.status(), self.writer.body_sent())
    }
}

/// `BaseHandler.setup_environ` for gateways without an HTTP connection (CGI, tests): sets
/// `wsgi.version`, `wsgi.run_once`, `wsgi.url_scheme` (from `HTTPS`, as `get_scheme`),
/// `wsgi.multithread` and `wsgi.multiprocess` from `gateway`, overriding what the environ had,
/// and, for an origin server with a server software name, `SERVER_SOFTWARE` if absent.
/// (`wsgi.input`, `wsgi.errors` and `wsgi.file_wrapper` are not environ values here: they are
/// [`Request`] fields and [`crate::app::FileBody`]; variables of those names in the
/// environ, such as a CGI script's process environment may hold, are removed, as CPython
/// replaces them.) An HTTP [`crate::Connection`]'s environ has these entries already.
///
/// # Errors
/// [`LocalError::CapacityExceeded`] if the environ's arena is too small.
pub fn setup_environ(
    environ: &mut Environ<'_>,
    gateway: &crate::environ::Gateway<'_>,
    mode: OutputMode,
) -> Result<(), LocalError> {
    use crate::environ::Value;
    for key in ["wsgi.input", "wsgi.errors", "wsgi.file_wrapper"] {
        if environ.contains(key) {
            environ.remove(key)?;
        }
    }
    environ.set_value("wsgi.version", Value::Version(1, 0))?;
    environ.set_value("wsgi.run_once", Value::Bool(gateway.run_once))?;
    let scheme = util::guess_scheme(environ);
    environ.set("wsgi.url_scheme", scheme.as_bytes())?;
    environ.set_value("wsgi.multithread", Value::Bool(gateway.multithread))?;
    environ.set_value("wsgi.multiprocess", Value::Bool(gateway.multiprocess))?;
    if mode == OutputMode::Origin
        && !gateway.server_software.is_empty()
        && !environ.contains("SERVER_SOFTWARE")
    {
        environ.set("SERVER_SOFTWARE", gateway.server_software.as_bytes())?;
    }
    Ok(())
}

/// What became of one request, for the access log and the error log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Outcome {
    /// The status sent (0 if none).
    pub status: u16,
    /// Body bytes sent.
    pub body_sent: u64,
    /// The application error, if there was one (log it: `BaseHandler.log_exception`).
    pub error: Option<AppError>,
    /// The client went away; nothing more can be sent (not an error to log).
    pub disconnected: bool,
}

/// The stages of `BaseHandler.run`. Every transition of the lifecycle is in [`run`].
#[derive(Debug)]
enum Stage {
    /// Calling the application.
    Call,
    /// Pulling body blocks; `first` until a block was written.
    Stream { first: bool },
    /// Completing the response.
    Finish,
    /// The application failed: error output (or close, if the head is out).
    Fail(AppError),
    /// The client went away.
    Gone,
    /// Done.
    Done,
}

/// `BaseHandler.run(application)`: calls the application, streams its body, finishes the
/// response, and turns any error into the error output (before the head is sent) or the end
/// of the connection (after). A client that went away ends it quietly
/// ([`Outcome::disconnected`], no error): a transport failure, or an application error
/// that [`AppError::is_disconnect`], as Python swallows `ConnectionResetError`,
/// `BrokenPipeError` and `ConnectionAbortedError` wherever they come from. The body is
/// dropped (closed) on every path before the response ends.
pub fn run<A: Application + ?Sized>(
    app: &A,
    environ: &mut Environ<'_>,
    errors: &mut dyn fmt::Write,
    io: &mut dyn Io,
) -> Outcome {
    let cell = RefCell::new(io);
    let mut input = InputHandle(&cell);
    let mut starter = StartHandle(&cell);
    let mut req = Request {
        environ,
        input: &mut input,
        errors,
    };
    let mut stage = Stage::Call;
    // The body lives here, not in the stage, so a large body is never moved per block.
    let mut body: Option<A::Body> = None;
    let mut error = None;
    let mut disconnected = false;
    loop {
        stage = match stage {
            Stage::Call => {
                let mut start_response = StartResponse::new(&mut starter);
                match app.call(&mut req, &mut start_response) {
                    Ok(_) if !cell.borrow().started() => Stage::Fail(AppError::with_kind(
                        "AssertionError",
                        "write() before start_response()",
                    )),
                    Ok(b) => {
                        body = Some(b);
                        Stage::Stream { first: true }
                    }
                    Err(e) => Stage::Fail(e),
                }
            }
            Stage::Stream { first } => {
                let next = match body.as_mut() {
                    None => Stage::Finish,
                    Some(body) => {
                        // `wsgi.file_wrapper`: offer the whole file to the gateway's fast
                        // path first.
                        let fast = if first {
                            body.file().and_then(|f| cell.borrow_mut().send_file(f))
                        } else {
                            None
                        };
                        let single = first && body.single_block() && !cell.borrow().headers_sent();
                        match fast {
                            Some(Ok(())) => Stage::Finish,
                            Some(Err(IoError::Transport(_))) => Stage::Gone,
                            Some(Err(IoError::Local(e))) => Stage::Fail(e.into()),
                            None => match body.next_block(&mut req) {
                                None => Stage::Finish,
                                Some(Err(e)) => Stage::Fail(e),
                                Some(Ok(block)) => match cell.borrow_mut().write(block, single) {
                                    Ok(()) => Stage::Stream { first: false },
                                    Err(IoError::Transport(_)) => Stage::Gone,
                                    Err(IoError::Local(e)) => Stage::Fail(e.into()),
                                },
                            },
                        }
                    }
                };
                if !matches!(next, Stage::Stream { .. }) {
                    // Leaving Stream on any path: the body is closed before the response
                    // ends (`result.close()`).
                    body = None;
                }
                next
            }
            Stage::Finish => match cell.borrow_mut().finish() {
                Ok(()) => Stage::Done,
                Err(IoError::Transport(_)) => Stage::Gone,
                Err(IoError::Local(e)) => Stage::Fail(e.into()),
            },
            // The client went away, whoever raised it: quiet.
            Stage::Fail(e) if e.is_disconnect() => {
                body = None;
                Stage::Gone
            }
            Stage::Fail(e) => {
                body = None;
                error = Some(e);
                let status = e.status().unwrap_or(500);
                match cell.borrow_mut().fail(status) {
                    Ok(()) | Err(IoError::Local(_)) => Stage::Done,
                    Err(IoError::Transport(_)) => Stage::Gone,
                }
            }
            Stage::Gone => {
                disconnected = true;
                cell.borrow_mut().abort();
                Stage::Done
            }
            Stage::Done => break,
        };
    }
    let (status, body_sent) = cell.borrow().progress();
    Outcome {
        status,
        body_sent,
        error,
        disconnected,
    }
}

/// `wsgi.input` over the shared gateway.
struct InputHandle<'a, 'io>(&'a RefCell<&'io mut dyn Io>);

impl embedded_io::ErrorType for InputHandle<'_, '_> {
    type Error = InputError;
}

impl embedded_io::Read for InputHandle<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        self.0
            .try_borrow_mut()
            .map_err(|_| InputError::Invalid("wsgi.input used while responding"))?
            .read_body(buf)
    }
}

/// `start_response` over the shared gateway.
struct StartHandle<'a, 'io>(&'a RefCell<&'io mut dyn Io>);

impl ResponseStart for StartHandle<'_, '_> {
    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), AppError> {
        let mut io = self
            .0
            .try_borrow_mut()
            .map_err(|_| AppError::from(LocalError::InvalidState))?;
        io.start(status, headers, replace).map_err(AppError::from)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        let mut io = self
            .0
            .try_borrow_mut()
            .map_err(|_| AppError::from(LocalError::InvalidState))?;
        match io.write(data, false) {
            Ok(()) => Ok(()),
            Err(IoError::Local(e)) => Err(e.into()),
            Err(IoError::Transport(_)) => Err(AppError::with_kind(
                "BrokenPipeError",
                "the client went away",
            )),
        }
    }

    fn headers_sent(&self) -> bool {
        self.0.try_borrow().is_ok_and(|io| io.headers_sent())
    }

    fn started(&self) -> bool {
        self.0.try_borrow().is_ok_and(|io| io.started())
    }
}

/// `"NNN Reason"` for a status code, in `buf`.
pub(crate) fn status_text<'b>(status: u16, reason: &[u8], buf: &'b mut [u8; 64]) -> &'b [u8] {
    let mut digits = [0u8; 20];
    let code = crate::write::format_radix(u64::from(status), 10, &mut digits);
    let mut out = Cursor::new(buf, 0);
    let _ = out.put_all(&[code, b" ", reason]);
    let len = out.pos();
    buf.get(..len).unwrap_or(b"500 Internal Server Error")
}

/// What the checks of an application's header fields found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fields {
    /// The Content-Length, if one number of octets (the same in every field).
    declared: Option<u64>,
    /// CGI output with a Content-Length that is not one number of octets: passed on, not
    /// enforced.
    cgi_unbounded: bool,
    has_date: bool,
    has_server: bool,
    /// Bytes of the fields that are written.
    len: usize,
}

impl Fields {
    /// Checks one field and counts it; true if it is written (a Content-Length is not where
    /// the status allows none, `no_length`, nor when it repeats the number of an earlier
    /// one: a sender sends one, RFC 9110 §5.3 and §8.6; CPython sends both).
    #[inline]
    fn check(
        &mut self,
        name: &str,
        value: &[u8],
        mode: OutputMode,
        no_length: bool,
    ) -> Result<bool, LocalError> {
        if !abnf::is_token(name.as_bytes()) {
            return Err(LocalError::BadHeaderName);
        }
        if !abnf::is_field_value(value) {
            return Err(LocalError::BadHeaderValue);
        }
        let kind = ResponseName::of(name);
        let mut repeat = false;
        match kind {
            ResponseName::HopByHop => return Err(LocalError::HopByHopHeader),
            ResponseName::ContentLength => {
                // `1*DIGIT` as it will be sent (the list form a recipient may accept,
                // `5, 5`, is not for a sender to generate). CGI output passes any value
                // on, as CPython does: the web server frames the response; only a number
                // of octets (the first, if several agree) bounds the body then.
                let n = value
                    .iter()
                    .all(u8::is_ascii_digit)
                    .then(|| crate::framing::parse_content_length(value).ok())
                    .flatten();
                match (n, mode) {
                    (Some(n), _) if self.declared.is_none_or(|d| d == n) => {
                        repeat = self.declared.is_some();
                        self.declared = Some(n);
                    }
                    (_, OutputMode::Origin) => return Err(LocalError::BadContentLength),
                    (_, OutputMode::Cgi) => self.cgi_unbounded = true,
                }
            }
            ResponseName::Date => self.has_date = true,
            ResponseName::Server => self.has_server = true,
            ResponseName::Other => {}
        }
        let written = !(repeat || no_length && kind == ResponseName::ContentLength);
        if written {
            self.len = self.len.saturating_add(field_len(name.as_bytes(), value));
        }
        Ok(written)
    }
}

/// The length of a header field line as [`Cursor::put_field`] writes it.
fn field_len(name: &[u8], value: &[u8]) -> usize {
    name.len() + 2 + value.len() + 2
}

/// Validates a status line: three digits, a space, a reason phrase of `SP / VCHAR /
/// obs-text` (RFC 9112 §4, without the HTAB that CPython 3.14 also refuses). Returns the
/// code. Checked in every build (CPython's are asserts).
pub(crate) fn check_status(bytes: &[u8]) -> Result<u16, LocalError> {
    let Some((code, rest)) = bytes.split_at_checked(3) else {
        return Err(LocalError::BadStatus);
    };
    if !code.iter().all(u8::is_ascii_digit) || rest.first() != Some(&b' ') {
        return Err(LocalError::BadStatus);
    }
    // gh-144370: no control character at all, HTAB included (CPython 3.14).
    if !rest
        .iter()
        .all(|&b| b != b'\t' && abnf::is_field_value_byte(b))
    {
        return Err(LocalError::BadStatus);
    }
    Ok(code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_vectors() {
        let table: &[(&str, Result<u16, LocalError>)] = &[
            ("200 OK", Ok(200)),
            ("404 Not Found", Ok(404)),
            ("200 ", Ok(200)),
            ("599 Whatever\twith tab", Err(LocalError::BadStatus)),
            // CPython test_status_validation_errors
            ("200", Err(LocalError::BadStatus)),
            ("20X OK", Err(LocalError::BadStatus)),
            ("200OK", Err(LocalError::BadStatus)),
            // gh-144370: control characters in the status
            ("200 OK\r\nX: y", Err(LocalError::BadStatus)),
            ("200 OK\x00", Err(LocalError::BadStatus)),
            ("", Err(LocalError::BadStatus)),
        ];
        for (status, want) in table {
            assert_eq!(check_status(status.as_bytes()), *want, "{status:?}");
        }
    }
}
