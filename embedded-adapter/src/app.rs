//! The application call: [`AsyncApplication`], an application that reads the request body
//! itself, asynchronously, so that the body (and the `100 Continue` a client may be waiting
//! for) is read only if the application asks for it.
//!
//! Every synchronous [`Application`] is one: its body is read whole into the slot's body
//! buffer first, then it is called as under the std server (the socket cannot be awaited from
//! inside a synchronous call).

use core::fmt;

use embassy_net::tcp::TcpSocket;
use wsgiref::app::{
    AppError, Application, Body, InputError, Request, ResponseHeaders, ResponseStart, SliceInput,
    StartResponse,
};
use wsgiref::{Environ, Exchange, RemoteError};

use crate::ServerConfig;
use crate::fmt::log_warn;
use crate::server::{Read, duration, embassy_now, now, read_until, send};

/// An application that reads the request body itself, with [`AsyncRequest::read_body`]: a
/// request it answers without reading (a wrong password, a route that takes no body) never
/// makes the client send its body, and a client that sent `Expect: 100-continue` gets no
/// `100 Continue` (the connection then closes after the response, as RFC 9110 §10.1.1
/// allows, unless the body came anyway and could be drained).
///
/// Every synchronous [`Application`] is an `AsyncApplication` that reads the whole body
/// first, so the same application values run on the std server and here.
///
/// ```no_run
/// use wsgiref::app::{AppError, Bytes};
/// use wsgiref_embassy::{AsyncApplication, AsyncRequest};
///
/// /// Takes an upload only with the right token: otherwise 403, and the body is never read.
/// struct Upload;
///
/// impl AsyncApplication for Upload {
///     type Body = Bytes<&'static [u8]>;
///
///     async fn call(&self, req: &mut AsyncRequest<'_, '_, '_>) -> Result<Self::Body, AppError> {
///         if req.environ().get("HTTP_X_TOKEN") != Some(b"secret") {
///             req.start_response().start("403 Forbidden", &[("Content-Type", "text/plain")])?;
///             return Ok(Bytes::new(b"no\n"));
///         }
///         let body = req.read_body().await?; // `100 Continue` goes out here
///         let stored = !body.is_empty();
///         req.start_response().start("200 OK", &[("Content-Type", "text/plain")])?;
///         Ok(Bytes::new(if stored { b"stored\n" } else { b"empty\n" }))
///     }
/// }
/// ```
pub trait AsyncApplication {
    /// The body it returns, pulled block by block (`wsgi.input` is then the body read by
    /// [`AsyncRequest::read_body`], empty if it was not read).
    type Body: Body;

    /// Serves one request: calls `start_response` and returns the body.
    ///
    /// # Errors
    /// Any error: before the head is sent it becomes the error output (500, or the status of
    /// a request body that could not be read: 400, 408, 413), after it the connection is
    /// closed. Either way it is logged.
    // The embassy executors run a task on one thread: no `Send` bound is wanted.
    #[allow(async_fn_in_trait)]
    async fn call(&self, req: &mut AsyncRequest<'_, '_, '_>) -> Result<Self::Body, AppError>;
}

impl<A: Application> AsyncApplication for A {
    type Body = A::Body;

    async fn call(&self, req: &mut AsyncRequest<'_, '_, '_>) -> Result<A::Body, AppError> {
        req.read_body().await?;
        req.call_sync(self)
    }
}

/// One request as an [`AsyncApplication`] sees it: the environ, the body (read on demand
/// into the slot's body buffer), `start_response` and `wsgi.errors`.
pub struct AsyncRequest<'r, 'c, 'n> {
    pub(crate) environ: &'r mut Environ<'c>,
    pub(crate) out: Output<'r, 'c>,
    pub(crate) socket: &'r mut TcpSocket<'n>,
    /// The body read so far (all of it once [`AsyncRequest::read_body`] returned).
    pub(crate) read: &'r [u8],
    /// The body was read (or failed to be).
    pub(crate) body_done: bool,
    /// Reading the body failed: the error output carries its status.
    pub(crate) body_failed: bool,
    /// The client is gone (a reset, or a send that failed): the connection is dropped.
    pub(crate) gone: bool,
    pub(crate) errors: ErrorsLog,
    /// The server's settings (the write timeout; the body deadline).
    pub(crate) config: &'r ServerConfig<'r>,
}

impl fmt::Debug for AsyncRequest<'_, '_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRequest")
            .field("environ", &self.environ)
            .field("body_read", &self.body_done)
            .finish_non_exhaustive()
    }
}

impl<'r, 'c, 'n> AsyncRequest<'r, 'c, 'n> {
    /// The environ.
    pub fn environ(&mut self) -> &mut Environ<'c> {
        self.environ
    }

    /// `start_response` (and `write`, staged in the body buffer's free part until the call
    /// returns, or until [`AsyncRequest::read_body`] sends it).
    pub fn start_response(&mut self) -> StartResponse<'_> {
        StartResponse::new(&mut self.out)
    }

    /// `wsgi.errors`: lines go to the log.
    pub fn errors(&mut self) -> &mut dyn fmt::Write {
        &mut self.errors
    }

    /// Reads the whole request body into the slot's body buffer and returns it (the second
    /// call returns the same bytes). A client waiting for `100 Continue` gets it now. Output
    /// the application staged with `write` is sent first.
    ///
    /// Dropping the future before it completes (a timeout or a `select` around it) leaves
    /// output half-sent or the body half-read: the connection is then dropped when the call
    /// returns, and a second `read_body` fails.
    ///
    /// # Errors
    /// The body is malformed, larger than the body buffer, too slow or cut short
    /// ([`InputError::Remote`]: the response becomes the error output with its status), or
    /// the client is gone ([`InputError::Io`]).
    pub async fn read_body(&mut self) -> Result<&[u8], InputError> {
        let gone = || InputError::Io(embedded_io_async::ErrorKind::ConnectionReset);
        if self.body_done {
            return if self.body_failed {
                Err(InputError::Invalid("the request body could not be read"))
            } else if self.gone {
                Err(gone())
            } else {
                Ok(self.read)
            };
        }
        self.body_done = true;
        // Until this call completes, the connection counts as gone.
        self.gone = true;
        // One loop, without nested futures beyond the socket's, and few locals kept across
        // its awaits: this future lives in every slot's state.
        let out = &mut self.out;
        let sent = out.staged == 0
            || send(
                self.socket,
                &[out.staging.get(..out.staged).unwrap_or_default()],
                self.config.write_timeout,
            )
            .await
            .is_ok();
        out.staged = 0;
        // The whole buffer is free now: the body goes to its front, staging after it.
        let buf = core::mem::take(&mut out.staging);
        let mut len = 0;
        let result = if sent {
            loop {
                match out.exchange.poll_body(now()) {
                    Ok(wsgiref::Body::Data(data)) => {
                        let Some(room) = buf.get_mut(len..len + data.len()) else {
                            // Cannot happen: the core's body limit is the buffer's size.
                            break Err(InputError::Remote(RemoteError::BodyTooLarge));
                        };
                        room.copy_from_slice(data);
                        len += data.len();
                    }
                    Ok(wsgiref::Body::Continue(bytes)) => {
                        if send(self.socket, &[bytes], self.config.write_timeout)
                            .await
                            .is_err()
                        {
                            break Err(gone());
                        }
                    }
                    Ok(wsgiref::Body::NeedData) => {
                        let deadline = embassy_now() + duration(self.config.timeouts.body);
                        let exchange = &mut *out.exchange;
                        match read_until(self.socket, exchange.receive_buf(), Some(deadline)).await
                        {
                            Read::Data(0) => exchange.handle_eof(),
                            Read::Data(n) => exchange.handle_received(n),
                            Read::Timeout => exchange.handle_timeout_now(),
                            Read::Reset => break Err(gone()),
                        }
                    }
                    Ok(wsgiref::Body::End) => break Ok(()),
                    Ok(_) => break Err(InputError::Invalid("unexpected body event")),
                    Err(e) => break Err(InputError::Remote(e)),
                }
            }
        } else {
            Err(gone())
        };
        let (read, staging) = buf.split_at_mut_checked(len).unwrap_or_default();
        self.read = read;
        out.staging = staging;
        match result {
            Ok(()) => {
                self.gone = false;
                Ok(self.read)
            }
            Err(e) => {
                if let InputError::Remote(_) = e {
                    // Answered with the error output's status.
                    self.body_failed = true;
                    self.gone = false;
                }
                Err(e)
            }
        }
    }

    /// Calls a synchronous application, `wsgi.input` being the body read so far.
    pub(crate) fn call_sync<A: Application + ?Sized>(
        &mut self,
        app: &A,
    ) -> Result<A::Body, AppError> {
        let mut input = SliceInput(self.read);
        let mut req = Request {
            environ: self.environ,
            input: &mut input,
            errors: &mut self.errors,
        };
        let mut start_response = StartResponse::new(&mut self.out);
        app.call(&mut req, &mut start_response)
    }
}

/// The gateway side of `start_response` during the call: the head into the exchange, and
/// imperative `write`s staged in the free part of the body buffer (the socket cannot be
/// awaited from inside a synchronous call), sent when the call returns or before the body is
/// read.
pub(crate) struct Output<'r, 'c> {
    pub(crate) exchange: &'r mut Exchange<'c>,
    pub(crate) staging: &'r mut [u8],
    pub(crate) staged: usize,
    pub(crate) overflow: bool,
}

impl ResponseStart for Output<'_, '_> {
    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), AppError> {
        self.exchange
            .start_headers(status, headers, replace)
            .map_err(AppError::from)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        // A block that cannot fit is refused before the core counts it (the access log's
        // byte count is the core's): only its framing can still overflow below.
        if self.overflow || data.len() > self.staging.len().saturating_sub(self.staged) {
            self.overflow = true;
            return Err(AppError::with_kind("OSError", "output buffer full"));
        }
        let t = self.exchange.write(data)?;
        let end = self.staged + t.len();
        let Some(out) = self.staging.get_mut(self.staged..end) else {
            // The head is committed but cannot be sent whole: the connection closes.
            self.overflow = true;
            return Err(AppError::with_kind("OSError", "output buffer full"));
        };
        let mut at = 0;
        for piece in t.pieces() {
            if let Some(dst) = out.get_mut(at..at + piece.len()) {
                dst.copy_from_slice(piece);
            }
            at += piece.len();
        }
        self.staged = end;
        Ok(())
    }

    fn headers_sent(&self) -> bool {
        self.exchange.headers_sent()
    }

    fn started(&self) -> bool {
        self.exchange.status() != 0
    }
}

/// `wsgi.errors`: to the log, one record per `write!` (a message the validator writes with
/// one call is one record, not one per formatted piece).
pub(crate) struct ErrorsLog;

impl fmt::Write for ErrorsLog {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        log_errors(s);
        Ok(())
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        self.write_str(encode_char(c, &mut [0; 4]))
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        // Gathered on the stack for this call only (never across an await, so no slot
        // carries it); a longer message goes out in parts.
        let mut line = Line(heapless::String::new());
        let _ = fmt::write(&mut line, args);
        line.flush();
        Ok(())
    }
}

/// Room for one `wsgi.errors` message before it is logged in parts.
const LINE: usize = 160;

/// A `wsgi.errors` message being gathered.
struct Line(heapless::String<LINE>);

impl Line {
    fn flush(&mut self) {
        log_errors(&self.0);
        self.0.clear();
    }
}

/// `c` as UTF-8: the `write_char` of both writers, one copy of the encoder (the trait's
/// default inlines it into each).
#[inline(never)]
fn encode_char(c: char, buf: &mut [u8; 4]) -> &str {
    c.encode_utf8(buf)
}

impl fmt::Write for Line {
    fn write_char(&mut self, c: char) -> fmt::Result {
        self.write_str(encode_char(c, &mut [0; 4]))
    }

    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() > LINE - self.0.len() {
            self.flush();
            if s.len() > LINE {
                log_errors(s);
                return Ok(());
            }
        }
        let _ = self.0.push_str(s);
        Ok(())
    }
}

/// One `wsgi.errors` record, without its line end.
fn log_errors(s: &str) {
    let text = s.trim_ascii_end();
    if !text.is_empty() {
        log_warn!("wsgi.errors: {}", text);
    }
}
