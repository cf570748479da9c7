//! Several applications on one server, routed by path with `shift_path_info` (as the seed
//! suggests for `simple_server`): each application sees the request as if it were mounted at
//! its prefix, with the prefix moved from `PATH_INFO` to `SCRIPT_NAME`.
//!
//! | path | application |
//! |---|---|
//! | `/` | an index of the others |
//! | `/hello` | the hello world |
//! | `/demo/...` | `demo_app`: shows `SCRIPT_NAME = '/demo'` and the rest in `PATH_INFO` |
//! | `/echo/...` | the echo application: `X-Path` is the rest of the path |
//! | anything else | `404 Not Found` |
//!
//! ```text
//! cargo run --example routing [-- PORT]
//! curl http://127.0.0.1:8000/demo/a/b?x=1
//! curl -i -d 'some data' http://127.0.0.1:8000/echo/here
//! ```

use wsgiref::app::{AppError, Bytes, Request, StartResponse};
use wsgiref::demo::demo_app;
use wsgiref::util::shift_path_info;
use wsgiref_std::apps::{AnyBody, echo, hello};
use wsgiref_std::server::make_server;

const INDEX: &[u8] = b"Try /hello, /demo/anything or /echo/anything\n";

/// Routes on the first segment of `PATH_INFO`. The body of every route is an [`AnyBody`]:
/// an application's body is one type, whichever route answers.
fn router(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<AnyBody, AppError> {
    // `shift_path_info` builds the new SCRIPT_NAME and PATH_INFO in a scratch buffer; the
    // name it returns borrows that buffer, not the environ.
    let mut scratch = [0u8; 2048];
    let name = shift_path_info(req.environ, &mut scratch)?;
    match name {
        None | Some(b"") => {
            start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
            Ok(AnyBody::Bytes(Bytes::new(INDEX)))
        }
        // An exact match: nothing may follow `/hello`.
        Some(b"hello") if req.environ.get("PATH_INFO").is_none_or(<[u8]>::is_empty) => {
            hello(req, start_response).map(AnyBody::Bytes)
        }
        Some(b"demo") => demo_app(req, start_response).map(AnyBody::Demo),
        Some(b"echo") => echo(req, start_response).map(|b| AnyBody::Echo(Box::new(b))),
        Some(_) => {
            start_response.start("404 Not Found", &[("Content-Type", "text/plain")])?;
            Ok(AnyBody::Bytes(Bytes::new(b"not found\n")))
        }
    }
}

fn main() -> std::io::Result<()> {
    let httpd = make_server("127.0.0.1", port()?, router)?;
    println!("Serving the router on http://{}/", httpd.server_address());
    httpd.serve_forever()
}

/// The port: the first argument, 8000 without one.
fn port() -> std::io::Result<u16> {
    std::env::args().nth(1).map_or(Ok(8000), |arg| {
        arg.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad port {arg:?}: {e}"),
            )
        })
    })
}
