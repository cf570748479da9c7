//! The applications of the `wsgiref` command, reusable by tests and examples.
//!
//! | `--app` | application | what it answers |
//! |---|---|---|
//! | `demo` | [`demo_app`] | `simple_server.demo_app`: "Hello world!" and the environ |
//! | `hello` | [`hello`] | the seed's hello world |
//! | `echo` | [`echo`] | the request body, streamed back, and what the application saw of the request |
//! | `files=DIR` | [`FileApp`] | the files under `DIR` (the seed's file server, done properly) |
//!
//! [`AnyApp`] is the one application the command serves: an enum of these, picked at run
//! time (it parses from the `--app` text), whose body [`AnyBody`] is an enum of their bodies.
//!
//! ```no_run
//! use wsgiref::validate::Validator;
//! use wsgiref_std::apps::AnyApp;
//! use wsgiref_std::server::make_server;
//!
//! let app: AnyApp = "files=.".parse().unwrap();
//! let server = make_server("127.0.0.1", 8000, Validator::new(app)).unwrap();
//! server.serve_forever().unwrap();
//! ```

use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use wsgiref::app::{AppError, Application, Body, Bytes, FileSource, Request, StartResponse};
use wsgiref::demo::{DemoBody, demo_app};
pub use wsgiref::demo::{ECHO_BLOCK, EchoBody, EchoFill, echo, echo_with, header_value, hello};
use wsgiref::util::try_request_uri;

use crate::file::FileResponse;

/// Where a request path leads under a [`FileApp`]'s root ([`FileApp::resolve`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A regular file inside the root: its canonical path.
    File(PathBuf),
    /// A directory named without its trailing slash: redirect to the name with the slash, so
    /// relative links in its `index.html` work.
    AddSlash,
    /// Nothing to serve: missing, a directory without `index.html`, not a regular file.
    NotFound,
    /// The path tries to leave the root: a `..` segment, a NUL byte, or a symbolic link to
    /// somewhere outside. Answered like [`Resolution::NotFound`].
    Outside,
}

/// The body of a [`FileApp`] response: a file, or a short text (errors, redirects).
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a body lives on the worker's stack for one request; boxing would allocate per request"
)]
pub enum FilesBody {
    /// The file: sent with `sendfile(2)` by the std server, read in blocks elsewhere.
    File(FileResponse),
    /// A short text.
    Text(Bytes<&'static [u8]>),
}

impl Body for FilesBody {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        match self {
            Self::File(body) => body.next_block(req),
            Self::Text(body) => body.next_block(req),
        }
    }

    fn single_block(&self) -> bool {
        match self {
            Self::File(body) => body.single_block(),
            Self::Text(body) => body.single_block(),
        }
    }

    fn file(&mut self) -> Option<&mut dyn FileSource> {
        match self {
            Self::File(body) => Body::file(body),
            Self::Text(body) => Body::file(body),
        }
    }
}

/// The content type of a file, guessed from its name (`mimetypes.guess_type`), or
/// `application/octet-stream`.
///
/// ```
/// use std::path::Path;
/// use wsgiref_std::apps::content_type;
///
/// assert_eq!(content_type(Path::new("a/index.html")), "text/html");
/// assert_eq!(content_type(Path::new("README")), "application/octet-stream");
/// ```
#[must_use]
pub fn content_type(path: &Path) -> &'static str {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// Serves the files under a directory (the seed's file server, done properly):
///
/// * `GET` and `HEAD` only (`405 Method Not Allowed` with `Allow: GET, HEAD` otherwise; the
///   gateway sends no body to `HEAD`);
/// * `PATH_INFO` (percent-decoded by the gateway, so `%2F` is a `/` here) names a file under
///   the root; empty and `.` segments are skipped, a `..` segment is refused, and the
///   resolved path must still be under the root once every symbolic link is followed
///   ([`FileApp::resolve`]);
/// * a directory serves its `index.html`; named without its trailing slash it is redirected
///   (`301`) to the name with the slash; there are no directory listings;
/// * `Content-Type` guessed from the file name ([`content_type`]), `Content-Length` from the
///   file's metadata, the file as a [`FileResponse`] (which the std server sends with
///   `sendfile(2)`);
/// * `404 Not Found` (`text/plain`, `not found`) for everything that cannot be served.
///
/// A path is checked, then opened without following a last symbolic link and without
/// waiting (a FIFO is not waited on), and the file opened must be the one the path still
/// leads to under the root ([`FileApp::open_resolved`]): a directory or file swapped for a
/// symbolic link or a FIFO between the check and the open is refused, not served.
#[derive(Clone, Debug)]
pub struct FileApp {
    root: PathBuf,
}

impl FileApp {
    /// Serves the directory `root` (made canonical here).
    ///
    /// # Errors
    /// `root` does not exist or is not a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Self { root })
    }

    /// The canonical root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `path_info` (a percent-decoded `PATH_INFO`) leads under the root.
    ///
    /// ```no_run
    /// use wsgiref_std::apps::{FileApp, Resolution};
    ///
    /// let app = FileApp::new("/srv/www").unwrap();
    /// assert_eq!(app.resolve(b"/../etc/passwd"), Resolution::Outside);
    /// ```
    #[must_use]
    pub fn resolve(&self, path_info: &[u8]) -> Resolution {
        let mut path = self.root.clone();
        for segment in path_info.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => return Resolution::Outside,
                _ if segment.contains(&0) => return Resolution::Outside,
                _ => match segment_path(segment) {
                    Some(segment) => path.push(segment),
                    None => return Resolution::NotFound,
                },
            }
        }
        let canonical = match self.canonical(&path) {
            Ok(canonical) => canonical,
            Err(refused) => return refused,
        };
        let Ok(meta) = fs::metadata(&canonical) else {
            return Resolution::NotFound;
        };
        if meta.is_dir() {
            if !path_info.ends_with(b"/") {
                return Resolution::AddSlash;
            }
            return match self.canonical(&canonical.join("index.html")) {
                Ok(index) if index.is_file() => Resolution::File(index),
                Ok(_) => Resolution::NotFound,
                Err(refused) => refused,
            };
        }
        // `file.txt/` names a directory that is not there.
        if meta.is_file() && !path_info.ends_with(b"/") {
            Resolution::File(canonical)
        } else {
            Resolution::NotFound
        }
    }

    /// The canonical form of `path` (every symbolic link followed), if it exists and lies
    /// under the root.
    fn canonical(&self, path: &Path) -> Result<PathBuf, Resolution> {
        match path.canonicalize() {
            Ok(canonical) if canonical.starts_with(&self.root) => Ok(canonical),
            Ok(_) => Err(Resolution::Outside),
            Err(_) => Err(Resolution::NotFound),
        }
    }

    /// Opens the file [`FileApp::resolve`] found at `path` (canonical, under the root), if
    /// it is still there: opened without following a last symbolic link and without
    /// waiting, it must be a regular file, and `path` resolved again must lead under the
    /// root to that same file (device and inode). A component swapped for a symbolic link
    /// to the outside (or a file for a FIFO) between the resolution and the open gives
    /// `None`, as a missing file does.
    #[must_use]
    pub fn open_resolved(&self, path: &Path) -> Option<FileResponse> {
        use rustix::fs::{Mode, OFlags};
        use std::os::unix::fs::MetadataExt;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = fs::File::from(rustix::fs::open(path, flags, Mode::empty()).ok()?);
        let opened = file.metadata().ok()?;
        let again = self.canonical(path).ok()?;
        let seen = fs::metadata(again).ok()?;
        let same = seen.dev() == opened.dev() && seen.ino() == opened.ino();
        (opened.is_file() && same).then(|| FileResponse::new(file, opened.len()))
    }

    /// `404 Not Found`.
    fn not_found(start_response: &mut StartResponse<'_>) -> Result<FilesBody, AppError> {
        start_response.start("404 Not Found", &[("Content-Type", "text/plain")])?;
        Ok(FilesBody::Text(Bytes::new(b"not found")))
    }
}

/// A path segment as a file name: its bytes on Unix, UTF-8 text elsewhere (where a `\` or a
/// `:` in a segment, which could change the meaning of the path, is refused).
fn segment_path(segment: &[u8]) -> Option<&Path> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(Path::new(std::ffi::OsStr::from_bytes(segment)))
    }
    #[cfg(not(unix))]
    {
        let text = std::str::from_utf8(segment).ok()?;
        (!text.contains(['\\', ':'])).then(|| Path::new(text))
    }
}

impl Application for FileApp {
    type Body = FilesBody;

    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<FilesBody, AppError> {
        let env = &*req.environ;
        let method = env.get("REQUEST_METHOD").unwrap_or_default();
        if method != b"GET" && method != b"HEAD" {
            start_response.start(
                "405 Method Not Allowed",
                &[("Content-Type", "text/plain"), ("Allow", "GET, HEAD")],
            )?;
            return Ok(FilesBody::Text(Bytes::new(b"method not allowed")));
        }
        match self.resolve(env.get("PATH_INFO").unwrap_or_default()) {
            Resolution::File(path) => {
                let Some(file) = self.open_resolved(&path) else {
                    return Self::not_found(start_response);
                };
                let length = file.len().to_string();
                start_response.start(
                    "200 OK",
                    &[
                        ("Content-Type", content_type(&path)),
                        ("Content-Length", &length),
                    ],
                )?;
                // HEAD: the same head, and no file read for a body nobody gets.
                if method == b"HEAD" {
                    return Ok(FilesBody::Text(Bytes::new(b"")));
                }
                Ok(FilesBody::File(file))
            }
            Resolution::AddSlash => {
                let mut location = String::new();
                let written = try_request_uri(env, false)
                    .ok()
                    .and_then(|uri| write!(location, "{uri}/").ok());
                if written.is_none() {
                    return Self::not_found(start_response);
                }
                // The query as received, bytes that are not UTF-8 included (the request
                // target admits no byte a header value refuses).
                let mut location = location.into_bytes();
                if let Some(query) = env.get("QUERY_STRING").filter(|q| !q.is_empty()) {
                    location.push(b'?');
                    location.extend_from_slice(query);
                }
                start_response.start_bytes(
                    "301 Moved Permanently",
                    &[("Content-Type", b"text/plain"), ("Location", &location)],
                )?;
                Ok(FilesBody::Text(Bytes::new(b"moved")))
            }
            Resolution::NotFound | Resolution::Outside => Self::not_found(start_response),
        }
    }
}

/// The application the command serves, picked at run time: parse it from the `--app` text
/// (`demo`, `hello`, `echo`, `files=DIR`).
///
/// ```
/// use wsgiref_std::apps::AnyApp;
///
/// let app: AnyApp = "hello".parse().unwrap();
/// assert_eq!(app.to_string(), "hello");
/// assert!("files=/no/such/dir".parse::<AnyApp>().is_err());
/// assert!("nope".parse::<AnyApp>().is_err());
/// ```
#[derive(Clone, Debug)]
pub enum AnyApp {
    /// [`demo_app`].
    Demo,
    /// [`hello`].
    Hello,
    /// [`echo`].
    Echo,
    /// A [`FileApp`].
    Files(FileApp),
}

impl fmt::Display for AnyApp {
    /// The application's name: `demo_app`, `hello`, `echo`, `files from DIR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Demo => f.write_str("demo_app"),
            Self::Hello => f.write_str("hello"),
            Self::Echo => f.write_str("echo"),
            Self::Files(app) => write!(f, "files from {}", app.root().display()),
        }
    }
}

/// Why an `--app` text names no application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseAppError(String);

impl fmt::Display for ParseAppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseAppError {}

impl FromStr for AnyApp {
    type Err = ParseAppError;

    /// `demo` (or `demo_app`), `hello`, `echo`, or `files=DIR` (the directory must exist).
    fn from_str(s: &str) -> Result<Self, ParseAppError> {
        match s {
            "demo" | "demo_app" => Ok(Self::Demo),
            "hello" => Ok(Self::Hello),
            "echo" => Ok(Self::Echo),
            "files" => Err(ParseAppError(
                "files needs a directory: files=DIR".to_string(),
            )),
            _ => match s.strip_prefix("files=") {
                Some(dir) => FileApp::new(dir)
                    .map(Self::Files)
                    .map_err(|e| ParseAppError(format!("cannot serve {dir}: {e}"))),
                None => Err(ParseAppError(format!(
                    "unknown application {s:?}: expected demo, hello, echo or files=DIR"
                ))),
            },
        }
    }
}

/// The body of an [`AnyApp`]: the body of the application it is. A router over these
/// applications can return it too (`examples/routing.rs`).
///
/// The echo and file bodies carry block buffers (8 and 16 KiB) and are boxed: a body is
/// moved a few times on its way from the application to the gateway, and an enum as large
/// as its largest variant made every `hello` or `demo` request copy 16 KiB each time (most
/// of the server's CPU time per request). Those two allocate once per request; `demo` and
/// `hello` allocate nothing.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "demo_app's 288-byte page buffer is cheap to move; boxing it would allocate per request"
)]
pub enum AnyBody {
    /// [`demo_app`]'s.
    Demo(DemoBody),
    /// [`hello`]'s, or any other static text (a router's index, a 404).
    Bytes(Bytes<&'static [u8]>),
    /// [`echo`]'s.
    Echo(Box<EchoBody>),
    /// A [`FileApp`]'s.
    Files(Box<FilesBody>),
}

impl Body for AnyBody {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        match self {
            Self::Demo(body) => body.next_block(req),
            Self::Bytes(body) => body.next_block(req),
            Self::Echo(body) => body.next_block(req),
            Self::Files(body) => body.next_block(req),
        }
    }

    fn single_block(&self) -> bool {
        match self {
            Self::Demo(body) => body.single_block(),
            Self::Bytes(body) => body.single_block(),
            Self::Echo(body) => body.single_block(),
            Self::Files(body) => body.single_block(),
        }
    }

    fn file(&mut self) -> Option<&mut dyn FileSource> {
        match self {
            Self::Demo(body) => body.file(),
            Self::Bytes(body) => body.file(),
            Self::Echo(body) => body.file(),
            Self::Files(body) => body.file(),
        }
    }
}

impl Application for AnyApp {
    type Body = AnyBody;

    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<AnyBody, AppError> {
        match self {
            Self::Demo => demo_app(req, start_response).map(AnyBody::Demo),
            Self::Hello => hello(req, start_response).map(AnyBody::Bytes),
            Self::Echo => echo(req, start_response).map(|b| AnyBody::Echo(Box::new(b))),
            Self::Files(app) => app
                .call(req, start_response)
                .map(|b| AnyBody::Files(Box::new(b))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use wsgiref::validate::Validator;

    use super::*;
    use crate::server::{DefaultHandler, ServerConfig, WsgiServer};

    /// A body is moved by value from the application to the gateway: keep `AnyBody` small
    /// (an unboxed 16 KiB file body once made every request copy it several times).
    #[test]
    fn any_body_is_cheap_to_move() {
        assert!(
            size_of::<AnyBody>() <= 512,
            "AnyBody is {} bytes",
            size_of::<AnyBody>()
        );
    }

    /// A directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "wsgiref-apps-{name}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// `base/www` (the root) with `hello.txt`, `page.html`, `sub/index.html`, `empty/`,
    /// `noext`; `base/secret.txt` outside it; on Unix, symbolic links inside the root to a
    /// file inside, to the outside file, to the outside directory and to `/`.
    fn site() -> (TempDir, FileApp) {
        let base = TempDir::new("site");
        let www = base.0.join("www");
        fs::create_dir_all(www.join("sub")).unwrap();
        fs::create_dir_all(www.join("empty")).unwrap();
        fs::write(www.join("hello.txt"), "Hello, file!\n").unwrap();
        fs::write(www.join("page.html"), "<p>page</p>").unwrap();
        fs::write(www.join("sub/index.html"), "<p>index</p>").unwrap();
        fs::write(www.join("noext"), [0u8, 1, 2]).unwrap();
        fs::write(base.0.join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(www.join("hello.txt"), www.join("alias.txt")).unwrap();
            symlink(base.0.join("secret.txt"), www.join("leak.txt")).unwrap();
            symlink(&base.0, www.join("up")).unwrap();
            symlink("/", www.join("rootfs")).unwrap();
            symlink(base.0.join("secret.txt"), www.join("empty/index.html")).unwrap();
        }
        let app = FileApp::new(&www).unwrap();
        (base, app)
    }

    /// A check-then-open race, played out: the path is resolved, then (as another process
    /// could, between the two steps) its directory is swapped for a symbolic link to the
    /// outside, or the file for a FIFO. The open refuses both, at once.
    #[cfg(unix)]
    #[test]
    fn a_swap_between_resolution_and_open_is_refused() {
        use rustix::fs::{CWD, FileType, Mode, mknodat};
        use std::os::unix::fs::symlink;
        let (base, app) = site();
        let root = app.root().to_path_buf();
        fs::create_dir_all(root.join("d")).unwrap();
        fs::write(root.join("d/f.txt"), "inside").unwrap();
        fs::create_dir_all(base.0.join("outside")).unwrap();
        fs::write(base.0.join("outside/f.txt"), "secret").unwrap();

        let Resolution::File(path) = app.resolve(b"/d/f.txt") else {
            panic!("not resolved");
        };
        assert!(app.open_resolved(&path).is_some(), "the file itself opens");
        fs::rename(root.join("d"), root.join("d.old")).unwrap();
        symlink(base.0.join("outside"), root.join("d")).unwrap();
        assert!(
            app.open_resolved(&path).is_none(),
            "opened through a swapped link"
        );

        let Resolution::File(path) = app.resolve(b"/hello.txt") else {
            panic!("not resolved");
        };
        fs::remove_file(&path).unwrap();
        mknodat(CWD, &path, FileType::Fifo, Mode::from(0o600), 0).unwrap();
        let started = std::time::Instant::now();
        assert!(app.open_resolved(&path).is_none(), "a FIFO opened");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the open waited"
        );
    }

    /// A file that grows while it is read (not sent with `sendfile`: CGI, the validator)
    /// gives exactly the length declared when it was opened.
    #[test]
    fn a_growing_file_is_read_up_to_its_declared_length() {
        let base = TempDir::new("grow");
        let path = base.0.join("log.txt");
        fs::write(&path, vec![b'a'; 20_000]).unwrap();
        let mut file = FileResponse::open(&path).unwrap();
        assert_eq!(file.len(), 20_000);
        let mut appended = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut appended, &[b'b'; 5000]).unwrap();
        let mut buf = [0u8; 16384];
        let mut total = 0;
        loop {
            let n = FileSource::read_block(&mut file, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(buf[..n].iter().all(|&b| b == b'a'));
            total += n;
        }
        assert_eq!(total, 20_000);
    }

    #[test]
    fn paths_cannot_leave_the_root() {
        let (_base, app) = site();
        let root = app.root().to_path_buf();
        let file = |p: &str| Resolution::File(root.join(p));
        let table: &[(&[u8], Resolution)] = &[
            (b"/hello.txt", file("hello.txt")),
            (b"hello.txt", file("hello.txt")),
            (b"/./hello.txt", file("hello.txt")),
            (b"//hello.txt", file("hello.txt")),
            (b"/sub/", file("sub/index.html")),
            (b"/sub//", file("sub/index.html")),
            (b"/", Resolution::NotFound), // no index.html at the root, no listing
            (b"", Resolution::AddSlash),
            (b"/sub", Resolution::AddSlash),
            (b"/empty/", Resolution::Outside),
            (b"/missing.txt", Resolution::NotFound),
            (b"/hello.txt/", Resolution::NotFound),
            (b"/hello.txt/x", Resolution::NotFound),
            // `..` in any position, as the gateway decodes it from `%2E%2E` or `%2F..`.
            (b"/..", Resolution::Outside),
            (b"/../secret.txt", Resolution::Outside),
            (b"/sub/../hello.txt", Resolution::Outside),
            (b"/sub/../../secret.txt", Resolution::Outside),
            (b"/sub/..", Resolution::Outside),
            (b"..", Resolution::Outside),
            // Absolute paths stay under the root.
            (b"//etc/passwd", Resolution::NotFound),
            (b"/etc/passwd", Resolution::NotFound),
            // NUL bytes never reach the file system.
            (b"/hello.txt\0.html", Resolution::Outside),
        ];
        for (path, expected) in table {
            assert_eq!(
                app.resolve(path),
                *expected,
                "{}",
                String::from_utf8_lossy(path)
            );
        }
        #[cfg(unix)]
        {
            let table: &[(&[u8], Resolution)] = &[
                (b"/alias.txt", file("hello.txt")),
                (b"/leak.txt", Resolution::Outside),
                (b"/up/secret.txt", Resolution::Outside),
                (b"/up/www/hello.txt", file("hello.txt")),
                (b"/up", Resolution::Outside),
                (b"/rootfs/etc/passwd", Resolution::Outside),
                (b"/rootfs/", Resolution::Outside),
            ];
            for (path, expected) in table {
                assert_eq!(
                    app.resolve(path),
                    *expected,
                    "{}",
                    String::from_utf8_lossy(path)
                );
            }
        }
    }

    #[test]
    fn a_root_must_be_a_directory() {
        let (base, _) = site();
        assert!(FileApp::new(base.0.join("secret.txt")).is_err());
        assert!(FileApp::new(base.0.join("missing")).is_err());
        let relative = FileApp::new(".").unwrap();
        assert!(relative.root().is_absolute());
    }

    #[test]
    fn content_types_are_guessed_from_names() {
        let table = [
            ("index.html", "text/html"),
            ("a/b/page.htm", "text/html"),
            ("notes.txt", "text/plain"),
            ("style.css", "text/css"),
            ("app.js", "text/javascript"),
            ("data.json", "application/json"),
            ("image.png", "image/png"),
            ("photo.JPG", "image/jpeg"),
            ("doc.pdf", "application/pdf"),
            ("archive.tar.gz", "application/gzip"),
            ("README", "application/octet-stream"),
            ("file.unknownext", "application/octet-stream"),
        ];
        for (name, expected) in table {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn apps_parse_from_their_names() {
        let (_base, files) = site();
        for (text, name) in [
            ("demo", "demo_app"),
            ("demo_app", "demo_app"),
            ("hello", "hello"),
            ("echo", "echo"),
        ] {
            assert_eq!(text.parse::<AnyApp>().unwrap().to_string(), name);
        }
        let spec = format!("files={}", files.root().display());
        let AnyApp::Files(app) = spec.parse::<AnyApp>().unwrap() else {
            panic!("not a file server");
        };
        assert_eq!(app.root(), files.root());
        for bad in ["", "files", "files=", "nope", "Demo", "files=/no/such/dir"] {
            assert!(bad.parse::<AnyApp>().is_err(), "{bad}");
        }
    }

    /// One request on a new connection; the response, whole.
    fn request(addr: std::net::SocketAddr, raw: &[u8]) -> Response {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(raw).unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).unwrap();
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no end of head");
        let head = String::from_utf8(out[..split].to_vec()).unwrap();
        let body = out[split + 4..].to_vec();
        Response { head, body }
    }

    struct Response {
        head: String,
        body: Vec<u8>,
    }

    impl Response {
        fn status(&self) -> u16 {
            self.head[9..12].parse().unwrap()
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().skip(1).find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }
    }

    /// Serves `app` on a free port of 127.0.0.1 for the duration of `f`.
    fn with_server<A: Application + Sync>(app: A, f: impl FnOnce(std::net::SocketAddr)) {
        let config = ServerConfig {
            threads: 2,
            quiet: true,
            ..ServerConfig::default()
        };
        let server = WsgiServer::bind("127.0.0.1:0", app, config, DefaultHandler).unwrap();
        let addr = server.server_address();
        std::thread::scope(|scope| {
            let serving = scope.spawn(|| server.serve_forever());
            f(addr);
            server.shutdown();
            serving.join().unwrap().unwrap();
        });
    }

    #[test]
    fn the_command_serves_each_application() {
        let get = |path: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
        };

        with_server(AnyApp::Demo, |addr| {
            let r = request(addr, get("/x?y=1").as_bytes());
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
            assert!(r.body.starts_with(b"Hello world!\n\n"));
            assert!(r.body.windows(18).any(|w| w == b"PATH_INFO = '/x'\nQ"));
        });

        with_server(AnyApp::Hello, |addr| {
            let r = request(addr, get("/").as_bytes());
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-type"), Some("text/plain; charset=utf-8"));
            assert_eq!(r.header("Content-Length"), Some("11"));
            assert_eq!(r.body, b"Hello World");
        });

        with_server(Validator::new(AnyApp::Echo), |addr| {
            let r = request(
                addr,
                b"POST /a%20b%0A?q=%41 HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
            );
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
            assert_eq!(r.header("X-Method"), Some("POST"));
            assert_eq!(r.header("X-Path"), Some("/a%20b%0A"));
            assert_eq!(r.header("X-Query"), Some("q=%41"));
            assert_eq!(r.header("X-Content-Length"), Some("5"));
            assert_eq!(r.body, b"hello");

            // A chunked body of several blocks, streamed back chunked.
            let big = vec![b'x'; 3 * ECHO_BLOCK + 17];
            let mut raw = b"PUT /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\
                            Transfer-Encoding: chunked\r\n\r\n"
                .to_vec();
            for chunk in big.chunks(5000) {
                raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                raw.extend_from_slice(chunk);
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(b"0\r\n\r\n");
            let r = request(addr, &raw);
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("X-Content-Length"), Some(""));
            assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
            assert_eq!(dechunk(&r.body), big);
        });

        let (_base, files) = site();
        with_server(AnyApp::Files(files), |addr| {
            let r = request(addr, get("/hello.txt").as_bytes());
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-Type"), Some("text/plain"));
            assert_eq!(r.header("Content-Length"), Some("13"));
            assert_eq!(r.body, b"Hello, file!\n");

            let r = request(addr, get("/sub/").as_bytes());
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-Type"), Some("text/html"));
            assert_eq!(r.body, b"<p>index</p>");

            let r = request(addr, get("/sub?a=1").as_bytes());
            assert_eq!(r.status(), 301);
            assert_eq!(r.header("Location"), Some("http://example/sub/?a=1"));
            // A query that is not UTF-8 is kept, byte for byte.
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /sub?a=\xff HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            c.read_to_end(&mut out).unwrap();
            assert!(out.starts_with(b"HTTP/1.1 301 "));
            let location = b"\r\nLocation: http://example/sub/?a=\xff\r\n";
            assert!(
                out.windows(location.len()).any(|w| w == location),
                "{:?}",
                String::from_utf8_lossy(&out)
            );

            let r = request(
                addr,
                b"HEAD /page.html HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            );
            assert_eq!(r.status(), 200);
            assert_eq!(r.header("Content-Length"), Some("11"));
            assert!(r.body.is_empty());

            let r = request(
                addr,
                b"POST /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            assert_eq!(r.status(), 405);
            assert_eq!(r.header("Allow"), Some("GET, HEAD"));

            for path in [
                "/missing",
                "/%2E%2E/secret.txt",
                "/sub%2F..%2F..%2Fsecret.txt",
                "/sub/%2e%2e/%2e%2e/secret.txt",
                "/leak.txt",
                "/up/secret.txt",
            ] {
                let r = request(addr, get(path).as_bytes());
                assert!(r.status() == 404 || r.status() == 400, "{path}: {}", r.head);
                assert!(!r.body.starts_with(b"secret"), "{path}");
            }
        });
    }

    /// The payload of a chunked body.
    fn dechunk(mut body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            body = &body[line_end + 2..];
            if size == 0 {
                return out;
            }
            out.extend_from_slice(&body[..size]);
            body = &body[size + 2..];
        }
    }
}
