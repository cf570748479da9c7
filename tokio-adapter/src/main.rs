//! The `wsgiref-tokio` command: the applications of the `wsgiref` command (demo, hello,
//! echo, files=DIR, optionally under the validator) served by the tokio adapter on a
//! multi-thread runtime; Ctrl-C shuts down gracefully.
//!
//! ```text
//! cargo run -p wsgiref-tokio -- --app hello --bind 127.0.0.1:8000
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use tokio::sync::Notify;
use wsgiref::app::Application;
use wsgiref::validate::Validator;
use wsgiref_std::apps::AnyApp;
use wsgiref_tokio::{Execution, ServerConfig};

/// Serve a WSGI application over HTTP/1.1 with tokio.
#[derive(Debug, Parser)]
#[command(name = "wsgiref-tokio", version)]
struct Args {
    /// The address and port to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8000")]
    bind: String,

    /// The application: demo, hello, echo or files=DIR
    #[arg(long, value_name = "APP", default_value = "demo")]
    app: AnyApp,

    /// Wrap the application in the validator (wsgiref.validate)
    #[arg(long)]
    validate: bool,

    /// No access log (errors are still written to stderr)
    #[arg(long)]
    quiet: bool,

    /// How the application runs: block-in-place (any application), or inline on the
    /// runtime's workers (only for applications that never block: demo, hello, echo;
    /// not files)
    #[arg(long, value_name = "ENGINE", default_value = "block-in-place", value_parser = ["block-in-place", "inline"])]
    engine: String,

    /// Runtime worker threads (default: one per CPU)
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        builder.worker_threads(n.max(1));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("wsgiref-tokio: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let name = args.app.to_string();
    let result = if args.validate {
        let name = format!("{name} (validated)");
        runtime.block_on(serve(Validator::new(args.app.clone()), &name, &args))
    } else {
        runtime.block_on(serve(args.app.clone(), &name, &args))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsgiref-tokio: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve<A>(app: A, name: &str, args: &Args) -> Result<(), Box<dyn std::error::Error>>
where
    A: Application + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!("Serving {name} on http://{}/", listener.local_addr()?);
    let config = ServerConfig {
        quiet: args.quiet,
        execution: if args.engine == "inline" {
            Execution::Inline
        } else {
            Execution::BlockInPlace
        },
        ..ServerConfig::default()
    };
    // Ctrl-C: a graceful shutdown; a second one exits at once.
    let stop = Arc::new(Notify::new());
    let notify = Arc::clone(&stop);
    let stopping = AtomicBool::new(false);
    let installed = ctrlc::set_handler(move || {
        if stopping.swap(true, Ordering::SeqCst) {
            eprintln!("wsgiref-tokio: interrupted again, exiting now");
            std::process::exit(130);
        }
        eprintln!("Shutting down (Ctrl-C again to exit at once).");
        notify.notify_one();
    });
    if let Err(e) = installed {
        eprintln!("wsgiref-tokio: Ctrl-C will not shut down gracefully: {e}");
    }
    wsgiref_tokio::serve(listener, app)
        .config(config)
        .with_graceful_shutdown(async move { stop.notified().await })
        .await?;
    Ok(())
}
