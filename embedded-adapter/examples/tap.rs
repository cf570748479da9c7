//! The embedded adapter on Linux: embassy-net over a TAP device, on embassy-executor's std
//! platform, serving the same applications as the std server behind the validator.
//!
//! | path | application |
//! |---|---|
//! | `/hello` | [`hello`] |
//! | `/echo...` | [`echo_with`] (the request body back, `X-Method`, `X-Path`, …) |
//! | `/write?n=N` | [`writer`]: `N` bytes through the imperative `write()`, then a returned body |
//! | `/guarded` | [`Site`]'s own handler, an [`AsyncApplication`]: `403` without reading the body unless `X-Token: secret`, else the body's length (a lazy `100 Continue`) |
//! | `/guarded?impatient` | the same handler giving the body 200 ms ([`AsyncRequest::read_body`] under a timeout), then reading it again |
//! | `/guarded?block` | the same handler blocking the executor for 1.5 s (a long synchronous application) |
//! | anything else | [`demo_app`] |
//!
//! Run as root (or with CAP_NET_ADMIN) after creating the device:
//!
//! ```text
//! ip tuntap add dev tap0 mode tap && ip addr add 10.213.0.1/24 dev tap0 && ip link set tap0 up
//! cargo run --example tap --features log -- --tap tap0 --addr 10.213.0.2/24 --port 8080
//! curl http://10.213.0.2:8080/
//! ```
//!
//! `--small` serves with the default slot (1 KiB buffers, as firmware does) and header
//! filtering instead of the large host buffers; `--first-byte-ms N` sets the first-byte
//! deadline (also the longest a TCP handshake may take) and `--write-timeout-ms N` the
//! longest wait for room in the socket's transmit buffer, for tests.
//!
//! SIGINT or SIGTERM stops the server gracefully ([`Server::stop`]) and the process exits 0.
//!
//! `scripts/tap-test.sh` does this in a network namespace of its own and tests it.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use embassy_executor::Spawner;
use embassy_net::{Config, Ipv4Address, Ipv4Cidr, Runner, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::Timer;
use static_cell::StaticCell;
use wsgiref::app::{AppError, Application, Body, Bytes, Request, StartResponse};
use wsgiref::demo::{DemoBody, EchoBody, demo_app, echo_with, hello};
use wsgiref::validate::{ValidatedBody, Validator};
use wsgiref_embassy::{AsyncApplication, AsyncRequest, Server, ServerConfig, Slot};

/// Connections served at once.
const SLOTS: usize = 8;

/// The echo application's block size.
const ECHO: usize = 512;

/// A slot: 4 KiB socket buffers, 2 KiB request buffer, 512 bytes of response head, 64 KiB
/// body.
type HostSlot = Slot<4096, 4096, 2048, 512, 65536>;

/// With `--small`: the default slot (1 KiB buffers, as on firmware) and header filtering.
type SmallSlot = Slot;

/// The example's applications, by path.
#[derive(Clone, Copy, Debug)]
struct Routes;

/// The body of one of [`Routes`]' applications.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a body lives in the slot's future for one request; boxing would allocate"
)]
enum RouteBody {
    Demo(DemoBody),
    Text(Bytes<&'static [u8]>),
    Echo(EchoBody<ECHO>),
}

impl Body for RouteBody {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        match self {
            Self::Demo(b) => b.next_block(req),
            Self::Text(b) => b.next_block(req),
            Self::Echo(b) => b.next_block(req),
        }
    }

    fn single_block(&self) -> bool {
        match self {
            Self::Demo(b) => b.single_block(),
            Self::Text(b) => b.single_block(),
            Self::Echo(b) => b.single_block(),
        }
    }
}

impl Application for Routes {
    type Body = RouteBody;

    fn call(
        &self,
        req: &mut Request<'_, '_>,
        start_response: &mut StartResponse<'_>,
    ) -> Result<RouteBody, AppError> {
        let path = req.environ.get("PATH_INFO").unwrap_or_default();
        if path == b"/hello" {
            hello(req, start_response).map(RouteBody::Text)
        } else if path == b"/write" {
            writer(req, start_response).map(RouteBody::Text)
        } else if path.starts_with(b"/echo") {
            echo_with::<ECHO>(req, start_response).map(RouteBody::Echo)
        } else {
            demo_app(req, start_response).map(RouteBody::Demo)
        }
    }
}

/// The site: `/guarded` is served asynchronously, reading the request body only when the
/// request carries the token; everything else goes to the synchronous [`Routes`] behind the
/// validator (whose body is read whole first, as for every synchronous application).
struct Site(Validator<Routes>);

/// The body of a [`Site`] response.
#[expect(
    clippy::large_enum_variant,
    reason = "a body lives in the slot's future for one request; boxing would allocate"
)]
enum SiteBody {
    Routes(ValidatedBody<RouteBody>),
    Text(Bytes<String>),
}

impl Body for SiteBody {
    fn next_block<'b>(
        &'b mut self,
        req: &'b mut Request<'_, '_>,
    ) -> Option<Result<&'b [u8], AppError>> {
        match self {
            Self::Routes(b) => b.next_block(req),
            Self::Text(b) => b.next_block(req),
        }
    }

    fn single_block(&self) -> bool {
        match self {
            Self::Routes(b) => b.single_block(),
            Self::Text(b) => b.single_block(),
        }
    }
}

impl AsyncApplication for Site {
    type Body = SiteBody;

    async fn call(&self, req: &mut AsyncRequest<'_, '_, '_>) -> Result<SiteBody, AppError> {
        if req.environ().get("PATH_INFO") != Some(b"/guarded") {
            return AsyncApplication::call(&self.0, req)
                .await
                .map(SiteBody::Routes);
        }
        let text = [("Content-Type", "text/plain")];
        if req.environ().get("QUERY_STRING") == Some(b"block") {
            // A long synchronous application: the executor (every slot) waits 1.5 s.
            std::thread::sleep(std::time::Duration::from_millis(1500));
            req.start_response().start("200 OK", &text)?;
            return Ok(SiteBody::Text(Bytes::new("blocked\n".into())));
        }
        if req.environ().get("QUERY_STRING") == Some(b"impatient") {
            // Gives the body 200 ms, then asks again: the first read was dropped midway, so
            // the second fails and the connection is dropped (the rest of the body must never
            // be read as a request).
            let first = embassy_time::with_timeout(
                embassy_time::Duration::from_millis(200),
                req.read_body(),
            )
            .await;
            let first = match first {
                Ok(Ok(body)) => format!("read {} bytes", body.len()),
                Ok(Err(e)) => format!("failed: {e}"),
                Err(_) => "timed out".into(),
            };
            let second = match req.read_body().await {
                Ok(body) => format!("read {} bytes", body.len()),
                Err(e) => format!("failed: {e}"),
            };
            req.start_response().start("200 OK", &text)?;
            return Ok(SiteBody::Text(Bytes::new(format!(
                "first {first}, then {second}\n"
            ))));
        }
        if req.environ().get("HTTP_X_TOKEN") != Some(b"secret") {
            // The body is never read: a client waiting for `100 Continue` never sends it.
            req.start_response().start("403 Forbidden", &text)?;
            return Ok(SiteBody::Text(Bytes::new("no token\n".into())));
        }
        let len = req.read_body().await?.len();
        req.start_response().start("200 OK", &text)?;
        Ok(SiteBody::Text(Bytes::new(format!("stored {len} bytes\n"))))
    }
}

/// `N` bytes of `w` (the query `n=N`, default 13) written through `start_response.write()`
/// in blocks of 64 while the application runs, then `|returned` as the returned body: the
/// gateway's imperative write path.
fn writer(
    req: &mut Request<'_, '_>,
    start_response: &mut StartResponse<'_>,
) -> Result<Bytes<&'static [u8]>, AppError> {
    let query = req.environ.get("QUERY_STRING").unwrap_or_default();
    let n = query
        .strip_prefix(b"n=")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(13);
    start_response.start("200 OK", &[("Content-Type", "text/plain")])?;
    let block = [b'w'; 64];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        start_response.write(&block[..k])?;
        left -= k;
    }
    Ok(Bytes::new(b"|returned"))
}

/// Command-line settings.
struct Args {
    tap: String,
    addr: Ipv4Cidr,
    port: u16,
    small: bool,
    /// `--first-byte-ms`: the core's first-byte deadline (also how long a handshake may
    /// take), for tests.
    first_byte: Option<core::time::Duration>,
    /// `--write-timeout-ms`: [`ServerConfig::write_timeout`], for tests.
    write_timeout: Option<embassy_time::Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tap: "tap0".into(),
        addr: Ipv4Cidr::new(Ipv4Address::new(10, 213, 0, 2), 24),
        port: 8080,
        small: false,
        first_byte: None,
        write_timeout: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--small" {
            args.small = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tap" => args.tap = value,
            "--addr" => {
                let (ip, prefix) = value.split_once('/').ok_or("--addr is IP/PREFIX")?;
                let ip: Ipv4Address = ip.parse().map_err(|e| format!("--addr: {e}"))?;
                let prefix: u8 = prefix.parse().map_err(|e| format!("--addr: {e}"))?;
                args.addr = Ipv4Cidr::new(ip, prefix);
            }
            "--port" => args.port = value.parse().map_err(|e| format!("--port: {e}"))?,
            "--first-byte-ms" => {
                let ms = value.parse().map_err(|e| format!("--first-byte-ms: {e}"))?;
                args.first_byte = Some(core::time::Duration::from_millis(ms));
            }
            "--write-timeout-ms" => {
                let ms = value
                    .parse()
                    .map_err(|e| format!("--write-timeout-ms: {e}"))?;
                args.write_timeout = Some(embassy_time::Duration::from_millis(ms));
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(args)
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// Set by SIGINT/SIGTERM (from the signal thread); the stop task passes it on.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

#[embassy_executor::task]
async fn stop_task(server: &'static Server<'static, Site>) {
    while !STOP_REQUESTED.load(Ordering::SeqCst) {
        Timer::after_millis(50).await;
    }
    log::info!("stopping");
    server.stop();
}

#[embassy_executor::task]
async fn http_task(server: &'static Server<'static, Site>, slots: &'static mut [HostSlot; SLOTS]) {
    server.run(slots).await;
    log::info!("server stopped");
    std::process::exit(0);
}

#[embassy_executor::task]
async fn small_http_task(
    server: &'static Server<'static, Site>,
    slots: &'static mut [SmallSlot; SLOTS],
) {
    server.run(slots).await;
    log::info!("server stopped");
    std::process::exit(0);
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("tap: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ctrlc::set_handler(|| STOP_REQUESTED.store(true, Ordering::SeqCst)) {
        eprintln!("tap: no signal handler: {e}");
        return ExitCode::FAILURE;
    }
    static EXECUTOR: StaticCell<embassy_executor::Executor> = StaticCell::new();
    let executor = EXECUTOR.init(embassy_executor::Executor::new());
    executor.run(move |spawner| start(spawner, args));
}

fn start(spawner: Spawner, args: Args) {
    let device = match TunTapDevice::new(&args.tap) {
        Ok(device) => device,
        Err(e) => {
            eprintln!("tap: cannot open {}: {e}", args.tap);
            std::process::exit(1);
        }
    };
    let config = Config::ipv4_static(StaticConfigV4 {
        address: args.addr,
        gateway: None,
        dns_servers: Default::default(),
    });
    static RESOURCES: StaticCell<StackResources<SLOTS>> = StaticCell::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).unwrap());

    let mut server_config = ServerConfig::new(args.port);
    server_config.server_name = "wsgiref-tap";
    if let Some(first_byte) = args.first_byte {
        server_config.timeouts.first_byte = first_byte;
    }
    if let Some(write_timeout) = args.write_timeout {
        server_config.write_timeout = write_timeout;
    }
    if args.small {
        // What firmware does: only these fields (and Host, Content-Type, Content-Length) reach
        // the environ, so cookies never have to fit the 1 KiB request buffer.
        server_config.keep_headers = Some(&["Accept", "User-Agent"]);
    }
    static SERVER: StaticCell<Server<'static, Site>> = StaticCell::new();
    let server = SERVER.init(Server::new(
        stack,
        Site(Validator::new(Routes)),
        server_config,
    ));
    log::info!(
        "serving on {}:{} with {SLOTS} sockets{}",
        args.addr.address(),
        args.port,
        if args.small {
            ", 1 KiB buffers and header filtering"
        } else {
            ""
        }
    );
    spawner.spawn(stop_task(server).unwrap());
    if args.small {
        static SMALL_POOL: StaticCell<[SmallSlot; SLOTS]> = StaticCell::new();
        let slots = SMALL_POOL.init_with(|| core::array::from_fn(|_| SmallSlot::new()));
        spawner.spawn(small_http_task(server, slots).unwrap());
    } else {
        static SLOT_POOL: StaticCell<[HostSlot; SLOTS]> = StaticCell::new();
        let slots = SLOT_POOL.init_with(|| core::array::from_fn(|_| HostSlot::new()));
        spawner.spawn(http_task(server, slots).unwrap());
    }
}
