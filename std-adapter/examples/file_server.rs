//! The seed's small file server: serves a directory (default: the current one) on a port
//! (default: 8000). Content types are guessed from the file names, 404 errors are answered
//! for files not found; `..` and symbolic links cannot leave the directory
//! ([`wsgiref_std::apps::FileApp`]).
//!
//! ```text
//! cargo run --example file_server -- [DIR [PORT]]
//! curl -i http://127.0.0.1:8000/Cargo.toml
//! ```

use std::process::ExitCode;

use wsgiref_std::apps::FileApp;
use wsgiref_std::server::make_server;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| ".".to_string());
    let port = match args.next().map(|p| p.parse::<u16>()) {
        None => 8000,
        Some(Ok(port)) => port,
        Some(Err(e)) => {
            eprintln!("file_server: bad port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match FileApp::new(&path) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("file_server: cannot serve {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let httpd = match make_server("127.0.0.1", port, app) {
        Ok(httpd) => httpd,
        Err(e) => {
            eprintln!("file_server: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Serving {} on port {port}, control-C to stop",
        httpd.get_app().root().display()
    );
    // Python's `except KeyboardInterrupt`: Ctrl-C stops the server, requests in flight finish.
    let handle = httpd.shutdown_handle();
    if let Err(e) = ctrlc::set_handler(move || handle.shutdown()) {
        eprintln!("file_server: {e}");
    }
    if let Err(e) = httpd.serve_forever() {
        eprintln!("file_server: {e}");
        return ExitCode::FAILURE;
    }
    println!("Shutting down.");
    ExitCode::SUCCESS
}
