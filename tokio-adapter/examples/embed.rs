//! An HTTP endpoint embedded in a program that already runs tokio: the `wsgiref` command's
//! `demo_app` (from `wsgiref_std::apps::AnyApp`) served beside the program's own task, both
//! stopped by Ctrl-C; the server finishes its requests in flight first.
//!
//! ```text
//! cargo run -p wsgiref-tokio --example embed
//! curl http://127.0.0.1:8000/hello?x=1
//! ```

use std::time::Duration;

use wsgiref_std::apps::AnyApp;
use wsgiref_tokio::ServerConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (stop, stopped) = tokio::sync::watch::channel(false);

    // The program's own work, on the same runtime.
    let mut ticks = stopped.clone();
    let worker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                _ = interval.tick() => eprintln!("the program's own task is alive"),
                _ = ticks.wait_for(|s| *s) => break,
            }
        }
    });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!("Serving demo_app on http://{}/", listener.local_addr()?);
    let mut signal = stopped;
    let server = wsgiref_tokio::serve(listener, AnyApp::Demo)
        .config(ServerConfig {
            max_connections: 10_000,
            ..ServerConfig::default()
        })
        .with_graceful_shutdown(async move {
            let _ = signal.wait_for(|s| *s).await;
        });
    let server = tokio::spawn(server.into_future());

    tokio::signal::ctrl_c().await?;
    let _ = stop.send(true);
    server.await??;
    worker.await?;
    Ok(())
}
