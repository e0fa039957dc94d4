//! The resilient API gateway.
//!
//! ```sh
//! cargo run --example gateway                       # embedded demo upstreams and traffic
//! cargo run --example gateway -- --no-traffic       # demo upstreams, no traffic
//! cargo run --example gateway -- --config gateway.toml [--listen ADDR] [--admin-listen ADDR]
//! ```

use std::time::Duration;

use examples::gateway::{Options, start};

fn usage() -> ! {
    eprintln!(
        "usage: gateway [--config FILE] [--listen ADDR] [--admin-listen ADDR] [--no-traffic]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_breaker=info".into()),
        )
        .init();
    let mut options = Options {
        traffic: true,
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--config" => options.config = Some(value().into()),
            "--listen" => {
                options.listen = Some(value().parse().unwrap_or_else(|err| {
                    eprintln!("--listen: {err}");
                    std::process::exit(2)
                }))
            }
            "--admin-listen" => {
                options.admin_listen = Some(value().parse().unwrap_or_else(|err| {
                    eprintln!("--admin-listen: {err}");
                    std::process::exit(2)
                }))
            }
            "--no-traffic" => options.traffic = false,
            _ => usage(),
        }
    }
    let running = match start(options).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("gateway: refusing to start: {err}");
            std::process::exit(1)
        }
    };
    println!("proxy:     http://{}/{{service}}/{{path}}", running.proxy);
    for service in &running.gateway.services {
        println!(
            "           http://{}/{}/  ->  {}",
            running.proxy, service.settings.name, service.settings.url
        );
    }
    println!("dashboard: http://{}/dashboard", running.admin);
    println!("health:    http://{}/health", running.admin);
    println!("metrics:   http://{}/metrics", running.admin);
    let _ = tokio::signal::ctrl_c().await;
    println!("shutting down: letting in-flight requests finish (10 s at most)");
    running.shutdown(Duration::from_secs(10)).await;
}
