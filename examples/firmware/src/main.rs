//! wsgiref-embassy on a Nucleo-F767ZI (STM32F767ZI, LAN8742A PHY over RMII): DHCP, then
//! HTTP on port 80 with four connection slots, serving the same applications as the std
//! server:
//!
//! | path | application |
//! |---|---|
//! | `/hello` | `wsgiref::demo::hello` |
//! | `/echo...` | `wsgiref::demo::echo_with::<256>` |
//! | anything else | `wsgiref::demo::demo_app` |
//!
//! Headers are filtered (`keep_headers`): a browser's cookies never have to fit the 1 KiB
//! request buffer. Logs go out over RTT with defmt: `cargo run --release` with probe-rs.
//!
//! Without the `http` feature (`--no-default-features`) the same firmware answers each
//! connection with a fixed response by hand: the footprint baseline of docs/BENCHMARKS.md.
#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_net::{Runner, StackResources};
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::peripherals::{ETH, ETH_SMA};
use embassy_stm32::rng::Rng;
use embassy_stm32::time::Hertz;
use embassy_stm32::{Config, bind_interrupts, eth, peripherals, rng};
use static_cell::StaticCell;
use {defmt_rtt as _, panic_probe as _};

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<peripherals::RNG>;
});

/// Connections served at once (listening sockets). The `footprint-2-slots` feature builds
/// two, so that the footprint measurement can tell per-connection state (the difference)
/// from shared state.
#[cfg(not(feature = "footprint-2-slots"))]
const SLOTS: usize = 4;
#[cfg(feature = "footprint-2-slots")]
const SLOTS: usize = 2;

/// The Ethernet driver of the board.
type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, Device>) -> ! {
    runner.run().await
}

#[cfg(feature = "http")]
mod http {
    //! The HTTP server: wsgiref's applications through wsgiref-embassy.

    use embassy_net::Stack;
    use wsgiref::app::{AppError, Application, Body, Bytes, Request, StartResponse};
    use wsgiref::demo::hello;
    #[cfg(feature = "demo-apps")]
    use wsgiref::demo::{DemoBody, EchoBody, demo_app, echo_with};
    use wsgiref_embassy::{Server, ServerConfig, Slot};

    /// A connection slot: the default buffers (4.75 KiB), and room for 8 kept header fields
    /// (header filtering keeps at most 5), not the default 32.
    pub type HttpSlot = Slot<1024, 1024, 1024, 512, 1024, 256, 8>;

    /// The echo application's block size.
    #[cfg(feature = "demo-apps")]
    const ECHO: usize = 256;

    /// The applications, by path.
    pub struct Routes;

    /// The body of one of [`Routes`]' applications.
    #[allow(clippy::large_enum_variant)]
    pub enum RouteBody {
        #[cfg(feature = "demo-apps")]
        Demo(DemoBody),
        Text(Bytes<&'static [u8]>),
        #[cfg(feature = "demo-apps")]
        Echo(EchoBody<ECHO>),
    }

    impl Body for RouteBody {
        fn next_block<'b>(
            &'b mut self,
            req: &'b mut Request<'_, '_>,
        ) -> Option<Result<&'b [u8], AppError>> {
            match self {
                #[cfg(feature = "demo-apps")]
                Self::Demo(b) => b.next_block(req),
                Self::Text(b) => b.next_block(req),
                #[cfg(feature = "demo-apps")]
                Self::Echo(b) => b.next_block(req),
            }
        }

        fn single_block(&self) -> bool {
            match self {
                #[cfg(feature = "demo-apps")]
                Self::Demo(b) => b.single_block(),
                Self::Text(b) => b.single_block(),
                #[cfg(feature = "demo-apps")]
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
            #[cfg(feature = "demo-apps")]
            {
                let path = req.environ.get("PATH_INFO").unwrap_or_default();
                if path.starts_with(b"/echo") {
                    return echo_with::<ECHO>(req, start_response).map(RouteBody::Echo);
                }
                if path != b"/hello" {
                    return demo_app(req, start_response).map(RouteBody::Demo);
                }
            }
            hello(req, start_response).map(RouteBody::Text)
        }
    }

    #[embassy_executor::task]
    pub async fn http_task(stack: Stack<'static>, slots: &'static mut [HttpSlot; super::SLOTS]) {
        let mut config = ServerConfig::new(80);
        config.server_name = "nucleo";
        config.keep_headers = Some(&["Accept", "User-Agent"]);
        let server = Server::new(stack, Routes, config);
        server.run(slots).await;
    }

    /// Starts the server.
    pub fn start(spawner: embassy_executor::Spawner, stack: Stack<'static>) {
        static SLOT_POOL: static_cell::ConstStaticCell<[HttpSlot; super::SLOTS]> =
            static_cell::ConstStaticCell::new([const { HttpSlot::new() }; super::SLOTS]);
        spawner.spawn(http_task(stack, SLOT_POOL.take()).unwrap());
    }
}

#[cfg(not(feature = "http"))]
mod http {
    //! The baseline: the same sockets, each answering with a fixed response by hand.

    use embassy_net::Stack;
    use embassy_net::tcp::TcpSocket;
    use embedded_io_async::Write as _;

    const RESPONSE: &[u8] =
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello world!";

    /// Socket buffers, as the HTTP firmware's slots have.
    pub struct RawSlot {
        rx: [u8; 1024],
        tx: [u8; 1024],
    }

    async fn serve(stack: Stack<'static>, slot: &mut RawSlot) {
        let mut socket = TcpSocket::new(stack, &mut slot.rx, &mut slot.tx);
        loop {
            if socket.accept(80).await.is_err() {
                socket.abort();
                continue;
            }
            let mut request = [0u8; 64];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(RESPONSE).await;
            socket.close();
            let _ = socket.flush().await;
            socket.abort();
        }
    }

    #[embassy_executor::task]
    pub async fn http_task(stack: Stack<'static>, slots: &'static mut [RawSlot; super::SLOTS]) {
        let futures = slots.each_mut().map(|slot| serve(stack, slot));
        embassy_futures::join::join_array(futures).await;
    }

    /// Starts the baseline responder.
    pub fn start(spawner: embassy_executor::Spawner, stack: Stack<'static>) {
        static SLOT_POOL: static_cell::ConstStaticCell<[RawSlot; super::SLOTS]> =
            static_cell::ConstStaticCell::new(
                [const {
                    RawSlot {
                        rx: [0; 1024],
                        tx: [0; 1024],
                    }
                }; super::SLOTS],
            );
        spawner.spawn(http_task(stack, SLOT_POOL.take()).unwrap());
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut config = Config::default();
    {
        use embassy_stm32::rcc::*;
        // 8 MHz from the ST-LINK, 216 MHz system clock.
        config.rcc.hse = Some(Hse {
            freq: Hertz(8_000_000),
            mode: HseMode::Bypass,
        });
        config.rcc.pll_src = PllSource::HSE;
        config.rcc.pll = Some(Pll {
            prediv: PllPreDiv::DIV4,
            mul: PllMul::MUL216,
            divp: Some(PllPDiv::DIV2),
            divq: None,
            divr: None,
        });
        config.rcc.ahb_pre = AHBPrescaler::DIV1;
        config.rcc.apb1_pre = APBPrescaler::DIV4;
        config.rcc.apb2_pre = APBPrescaler::DIV2;
        config.rcc.sys = Sysclk::PLL1_P;
    }
    let p = embassy_stm32::init(config);
    defmt::info!("wsgiref firmware starting");

    let mut rng = Rng::new(p.RNG, Irqs);
    let mut seed = [0u8; 8];
    rng.fill_bytes(&mut seed);
    let seed = u64::from_le_bytes(seed);

    // Locally administered, from the device's unique ID would be better; fixed here.
    let mac_addr = [0x02, 0x00, 0x57, 0x53, 0x47, 0x49];
    static PACKETS: StaticCell<PacketQueue<4, 4>> = StaticCell::new();
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::<4, 4>::new()),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        mac_addr,
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );

    let net_config = embassy_net::Config::dhcpv4(Default::default());
    // The slots' sockets plus the DHCP socket.
    static RESOURCES: StaticCell<StackResources<{ SLOTS + 1 }>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        net_config,
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).unwrap());

    stack.wait_config_up().await;
    if let Some(v4) = stack.config_v4() {
        defmt::info!("address {}", v4.address);
    }
    http::start(spawner, stack);
}
