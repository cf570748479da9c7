//! The `wsgiref` command: serves an application on 127.0.0.1:8000 (demo_app by default).

use std::process::ExitCode;

use wsgiref::demo::demo_app;
use wsgiref_std::server::make_server;

fn main() -> ExitCode {
    let server = match make_server("127.0.0.1", 8000, demo_app) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("wsgiref: cannot listen on 127.0.0.1:8000: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Serving demo_app on http://{}/", server.server_address());
    match server.serve_forever() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsgiref: {e}");
            ExitCode::FAILURE
        }
    }
}
