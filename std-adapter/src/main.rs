//! The `wsgiref` command: serves an application over HTTP (demo_app on 127.0.0.1:8000 by
//! default), or runs one once as a CGI script.

use std::fmt::Display;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use wsgiref::app::Application;
use wsgiref::validate::Validator;
use wsgiref_std::apps::AnyApp;
use wsgiref_std::poll::{PollConfig, PollServer};
use wsgiref_std::server::{DefaultHandler, ServerConfig, WsgiServer};

/// What `--app` accepts, in short.
const APP_HELP: &str = "The application: demo, hello, echo or files=DIR";

/// What `--app` accepts.
const APP_LONG_HELP: &str = "The application:
  demo       simple_server.demo_app: \"Hello world!\" and the environ, one line a variable
  hello      the hello world: 200 OK, text/plain, \"Hello World\"
  echo       the request body streamed back, with X-Method, X-Path, X-Query and
             X-Content-Length headers (for testing)
  files=DIR  the files under DIR: content types guessed, index.html for directories, 404
             for anything missing or outside DIR";

/// Serve a WSGI application over HTTP/1.1 (Python's `python -m wsgiref.simple_server`), or run
/// one as a CGI script.
///
/// With no arguments, serves `demo_app` on http://127.0.0.1:8000/. Ctrl-C stops the server
/// gracefully: it stops accepting, lets requests in flight finish, then exits (press it again
/// to exit at once).
#[derive(Debug, Parser)]
#[command(name = "wsgiref", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

/// How to serve.
#[derive(Debug, Args)]
struct ServeArgs {
    /// The address and port to listen on (port 0 picks a free one)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8000")]
    bind: String,

    #[arg(
        long,
        value_name = "APP",
        default_value = "demo",
        help = APP_HELP,
        long_help = APP_LONG_HELP
    )]
    app: AnyApp,

    /// Wrap the application in the validator (wsgiref.validate)
    ///
    /// PEP 3333 violations of the application or the server become errors, logged to
    /// stderr and answered with 500 Internal Server Error.
    #[arg(long)]
    validate: bool,

    /// How connections are served [default: poll; threads with --once]
    #[arg(long, value_enum)]
    engine: Option<Engine>,

    /// Threads: workers each serving one connection at a time (--engine threads), or
    /// threads sharing one event loop of up to 1024 connections, as many as CPUs waiting on
    /// it at a time and the others taking over from one stuck in an application (--engine
    /// poll); at most this many applications run at once [default: 64]
    #[arg(
        long,
        value_name = "N",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=4096),
    )]
    threads: Option<usize>,

    /// Serve one request, then exit (handle_request)
    #[arg(long)]
    once: bool,

    /// No access log (errors are still written to stderr)
    #[arg(long)]
    quiet: bool,
}

/// The server engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Engine {
    /// simple_server: a pool of worker threads, one connection per thread at a time
    Threads,
    /// one epoll event loop for every connection (up to 1024); as many threads as CPUs
    /// wait on it and run the applications, and others (up to --threads) take over from a
    /// thread inside one application for over 10 ms
    Poll,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run an application once as a CGI script
    ///
    /// wsgiref.handlers.CGIHandler: the request from the environment (REQUEST_METHOD,
    /// PATH_INFO, CONTENT_LENGTH, HTTP_*, ...) and stdin, the response (`Status: 200 OK`,
    /// the headers, the body) to stdout, errors to stderr. Exits with failure if the
    /// application failed.
    Cgi(CgiArgs),
}

/// How to run as a CGI script.
#[derive(Debug, Args)]
struct CgiArgs {
    #[arg(
        long,
        value_name = "APP",
        default_value = "demo",
        help = APP_HELP,
        long_help = APP_LONG_HELP
    )]
    app: AnyApp,

    /// Run as IISCGIHandler: remove the SCRIPT_NAME that IIS repeats at the front of
    /// PATH_INFO
    #[arg(long)]
    iis: bool,

    /// Wrap the application in wsgiref.validate's validator
    #[arg(long)]
    validate: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Cgi(args)) => {
            if args.validate {
                run_cgi(&Validator::new(args.app), args.iis)
            } else {
                run_cgi(&args.app, args.iis)
            }
        }
        None => {
            let args = cli.serve;
            let (app, name) = (args.app.clone(), args.app.to_string());
            if args.validate {
                serve(Validator::new(app), &format!("{name} (validated)"), &args)
            } else {
                serve(app, &name, &args)
            }
        }
    }
}

/// Runs `app` as this process's CGI request (`CGIHandler`, or `IISCGIHandler` with `iis`).
fn run_cgi<A: Application>(app: &A, iis: bool) -> ExitCode {
    wsgiref_std::cgi::run_cgi(app, iis)
}

/// Serves `app` (called `name` in the banner) as `args` say, until Ctrl-C (or one request
/// with `--once`).
fn serve<A>(app: A, name: &str, args: &ServeArgs) -> ExitCode
where
    A: Application + Send + Sync + 'static,
{
    if engine_of(args) == Engine::Poll {
        return serve_poll(app, name, args);
    }
    let config = ServerConfig {
        threads: args.threads.unwrap_or(ServerConfig::default().threads),
        quiet: args.quiet,
        ..ServerConfig::default()
    };
    let server = match WsgiServer::bind(args.bind.as_str(), app, config, DefaultHandler) {
        Ok(server) => server,
        Err(e) => return fail(format_args!("cannot listen on {}: {e}", args.bind)),
    };
    let handle = server.shutdown_handle();
    on_ctrl_c(move || handle.shutdown());
    println!("Serving {name} on http://{}/", server.server_address());
    let served = if args.once {
        server.handle_request()
    } else {
        server.serve_forever()
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format_args!("{e}")),
    }
}

/// The engine `args` ask for: the event loop unless told otherwise, and the thread pool
/// for `--once` (handle_request is simple_server's, the pool's).
fn engine_of(args: &ServeArgs) -> Engine {
    args.engine.unwrap_or(if args.once {
        Engine::Threads
    } else {
        Engine::Poll
    })
}

/// Serves `app` on the event loop (`--engine poll`) until Ctrl-C.
fn serve_poll<A: Application + Send + Sync + 'static>(
    app: A,
    name: &str,
    args: &ServeArgs,
) -> ExitCode {
    if args.once {
        return fail("--once needs --engine threads");
    }
    // As many turns at the epoll set as CPUs; `--threads` in all, so that as many
    // applications may block at once.
    let threads = args.threads.unwrap_or(ServerConfig::default().threads);
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let loops = cpus.min(threads);
    let config = PollConfig {
        loops,
        threads,
        quiet: args.quiet,
        ..PollConfig::default()
    };
    // Every slot's socket, the listener, and a few more (the soft limit is often 1024).
    let want = u64::try_from(config.max_connections).unwrap_or(u64::MAX);
    let _ = wsgiref_std::poll::raise_fd_limit(want.saturating_add(64));
    let server = match PollServer::bind(args.bind.as_str(), app, config, DefaultHandler) {
        Ok(server) => server,
        Err(e) => return fail(format_args!("cannot listen on {}: {e}", args.bind)),
    };
    let handle = server.shutdown_handle();
    on_ctrl_c(move || handle.shutdown());
    println!(
        "Serving {name} on http://{}/ (event loop: {threads} thread{}, {loops} at a time)",
        server.server_address(),
        if threads == 1 { "" } else { "s" }
    );
    match server.serve_forever_on() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format_args!("{e}")),
    }
}

/// Ctrl-C runs `shutdown`; a second Ctrl-C exits at once.
fn on_ctrl_c(shutdown: impl Fn() + Send + 'static) {
    let stopping = AtomicBool::new(false);
    let installed = ctrlc::set_handler(move || {
        if stopping.swap(true, Ordering::SeqCst) {
            eprintln!("wsgiref: interrupted again, exiting now");
            std::process::exit(130);
        }
        eprintln!("Shutting down (Ctrl-C again to exit at once).");
        shutdown();
    });
    if let Err(e) = installed {
        eprintln!("wsgiref: Ctrl-C will not shut down gracefully: {e}");
    }
}

/// Reports an error and returns the failure status.
fn fail(message: impl Display) -> ExitCode {
    eprintln!("wsgiref: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_arguments_serve_demo_app_on_port_8000() {
        let cli = Cli::try_parse_from(["wsgiref"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.bind, "127.0.0.1:8000");
        assert_eq!(cli.serve.app.to_string(), "demo_app");
        assert!(!cli.serve.validate && !cli.serve.once && !cli.serve.quiet);
        assert_eq!(cli.serve.threads, None);
        assert_eq!(cli.serve.engine, None);
        assert_eq!(engine_of(&cli.serve), Engine::Poll);
    }

    #[test]
    fn once_serves_on_the_thread_pool_unless_told_otherwise() {
        let engine = |argv: &[&str]| engine_of(&Cli::try_parse_from(argv).unwrap().serve);
        assert_eq!(engine(&["wsgiref", "--once"]), Engine::Threads);
        assert_eq!(engine(&["wsgiref", "--engine", "threads"]), Engine::Threads);
        assert_eq!(engine(&["wsgiref", "--engine", "poll"]), Engine::Poll);
        assert_eq!(
            engine(&["wsgiref", "--once", "--engine", "poll"]),
            Engine::Poll
        );
    }

    #[test]
    fn options_parse() {
        let cli = Cli::try_parse_from([
            "wsgiref",
            "--bind",
            "127.0.0.1:0",
            "--app",
            "echo",
            "--validate",
            "--threads",
            "2",
            "--once",
            "--quiet",
            "--engine",
            "poll",
        ])
        .unwrap();
        let args = cli.serve;
        assert_eq!(args.bind, "127.0.0.1:0");
        assert_eq!(args.app.to_string(), "echo");
        assert!(args.validate && args.once && args.quiet);
        assert_eq!(args.threads, Some(2));
        assert_eq!(args.engine, Some(Engine::Poll));

        let cli = Cli::try_parse_from(["wsgiref", "cgi", "--app", "hello", "--iis"]).unwrap();
        let Some(Command::Cgi(cgi)) = cli.command else {
            panic!("not the cgi subcommand");
        };
        assert_eq!(cgi.app.to_string(), "hello");
        assert!(cgi.iis && !cgi.validate);
    }

    #[test]
    fn bad_options_are_refused() {
        for argv in [
            &["wsgiref", "--app", "nope"][..],
            &["wsgiref", "--app", "files=/no/such/directory"],
            &["wsgiref", "--app", "files"],
            &["wsgiref", "--threads", "0"],
            &["wsgiref", "--engine", "tokio"],
            &["wsgiref", "--bind", "127.0.0.1:0", "cgi"],
            &["wsgiref", "cgi", "--once"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
