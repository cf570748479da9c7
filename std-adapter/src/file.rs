//! File bodies for the std server (`wsgi.file_wrapper`): sent with `sendfile(2)` when the
//! server can, read in blocks otherwise (CGI, tests, other gateways).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use wsgiref::app::{AppError, Body, FileBody, FileSource, Request};

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

/// A file response body of a known length: the server sends it with `sendfile(2)`;
/// other gateways read it in blocks of 16 KiB.
#[derive(Debug)]
pub struct FileResponse {
    body: FileBody<StdFile, 16384>,
    len: u64,
}

impl FileResponse {
    /// Opens `path` for sending.
    ///
    /// # Errors
    /// The file cannot be opened or is not a regular file.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
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
            body: FileBody::new(StdFile(file)),
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
        &self.body.get_ref().0
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
