//! File bodies for the std server (`wsgi.file_wrapper`): sent with `sendfile(2)` when the
//! server can, read in blocks otherwise (CGI, tests, other gateways).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use wsgiref::LocalError;
use wsgiref::app::{AppError, Body, FileBody, FileSource, InputError, Request, ResponseHeaders};
use wsgiref::handler::{HttpIo, Io, IoError, Transport, TransportError};

/// A std [`File`] as an `embedded_io` reader (what [`FileBody`] streams).
#[derive(Debug)]
pub struct StdFile(pub File);

impl embedded_io::ErrorType for StdFile {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for StdFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, embedded_io::ErrorKind> {
        loop {
            match self.0.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(embedded_io::ErrorKind::Other),
            }
        }
    }
}

/// At most the first `left` bytes of a file: a file that grows while it is sent is cut at
/// the length the response declared.
#[derive(Debug)]
struct Limited {
    file: StdFile,
    left: u64,
}

impl embedded_io::ErrorType for Limited {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, embedded_io::ErrorKind> {
        let most = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.file.read(buf.get_mut(..most).unwrap_or_default())?;
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

/// A file response body of a known length: the server sends it with `sendfile(2)`;
/// other gateways read it in blocks of 16 KiB. Either way exactly the first `len` bytes
/// (fewer if the file shrank: the response is then cut short).
#[derive(Debug)]
pub struct FileResponse {
    body: FileBody<Limited, 16384>,
    len: u64,
}

impl FileResponse {
    /// Opens `path` for sending. The open does not wait (a FIFO or a device is refused,
    /// not waited on).
    ///
    /// # Errors
    /// The file cannot be opened or is not a regular file.
    pub fn open(path: &Path) -> io::Result<Self> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = File::from(rustix::fs::open(path, flags, Mode::empty())?);
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        Ok(Self::new(file, meta.len()))
    }

    /// A body of the first `len` bytes of `file`.
    #[must_use]
    pub fn new(file: File, len: u64) -> Self {
        Self {
            body: FileBody::new(Limited {
                file: StdFile(file),
                left: len,
            }),
            len,
        }
    }

    /// The length to send (use it as `Content-Length`).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Is the file empty?
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open file.
    #[must_use]
    pub fn file(&self) -> &File {
        &self.body.get_ref().file.0
    }
}

impl Body for FileResponse {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        self.body.next_block(req)
    }

    fn file(&mut self) -> Option<&mut dyn FileSource> {
        Some(self)
    }
}

impl FileSource for FileResponse {
    fn read_block(&mut self, buf: &mut [u8]) -> Result<usize, AppError> {
        self.body.read_block(buf)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}

/// A transport that can send a file's bytes with `sendfile(2)` (no copy through user space).
pub trait SendFile: Transport {
    /// Sends the first `len` bytes of `file`, waiting for the socket as the other writes do.
    ///
    /// # Errors
    /// The socket failed or stalled, or the file is shorter than `len` (the response is then
    /// cut short and the connection must close).
    fn send_file(&mut self, file: &File, len: u64) -> Result<(), TransportError>;
}

/// The loop every [`SendFile`] runs: `sendfile` (one call of `send`, with the offset to
/// advance and the most bytes to send) until `len` bytes are out, `wait` for the socket when
/// it is full, interrupted calls retried, a short file an error.
///
/// # Errors
/// What `wait` returns; the socket's error; [`TransportError::Failed`] if the file ends
/// before `len` bytes.
pub fn send_file_with(
    len: u64,
    mut send: impl FnMut(&mut u64, usize) -> io::Result<usize>,
    mut wait: impl FnMut() -> Result<(), TransportError>,
) -> Result<(), TransportError> {
    let mut offset = 0u64;
    while offset < len {
        let count = usize::try_from(len - offset)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        match send(&mut offset, count) {
            // The file shrank: the response is short, the connection must close.
            Ok(0) => return Err(TransportError::Failed),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait()?,
            Err(e) => return Err(crate::transport::transport_error(&e)),
        }
    }
    Ok(())
}

/// The core's HTTP gateway ([`HttpIo`]) plus `BaseHandler.sendfile` for [`FileResponse`]
/// bodies: the head through the core, the bytes by [`SendFile::send_file`]. Every other
/// body goes through the core as usual. The std server's engines and the tokio adapter
/// serve requests through it.
#[derive(Debug)]
pub struct FileIo<'x, 'c, T>(pub HttpIo<'x, 'c, T>);

impl<T: SendFile> Io for FileIo<'_, '_, T> {
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputError> {
        self.0.read_body(buf)
    }

    fn start(
        &mut self,
        status: &str,
        headers: ResponseHeaders<'_>,
        replace: bool,
    ) -> Result<(), LocalError> {
        self.0.start(status, headers, replace)
    }

    fn write(&mut self, data: &[u8], whole: bool) -> Result<(), IoError> {
        self.0.write(data, whole)
    }

    fn finish(&mut self) -> Result<(), IoError> {
        self.0.finish()
    }

    fn fail(&mut self, status: u16) -> Result<(), IoError> {
        self.0.fail(status)
    }

    fn headers_sent(&self) -> bool {
        self.0.headers_sent()
    }

    fn started(&self) -> bool {
        self.0.started()
    }

    fn abort(&mut self) {
        self.0.abort();
    }

    fn progress(&self) -> (u16, u64) {
        self.0.progress()
    }

    fn send_file(&mut self, file: &mut dyn FileSource) -> Option<Result<(), IoError>> {
        let response = file.as_any_mut()?.downcast_mut::<FileResponse>()?;
        let len = response.len();
        let (exchange, transport) = self.0.parts();
        let (head, tail, send) = match exchange.write_external(len, true) {
            Ok((t, send)) => (t.head, t.tail, send),
            Err(e) => return Some(Err(IoError::Local(e))),
        };
        if let Err(e) = transport.send(&[head]) {
            return Some(Err(IoError::Transport(e)));
        }
        if send {
            if let Err(e) = transport.send_file(FileResponse::file(response), len) {
                return Some(Err(IoError::Transport(e)));
            }
        }
        Some(transport.send(&[tail]).map_err(IoError::Transport))
    }
}
