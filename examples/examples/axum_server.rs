//! An axum service with a server-side deadline and error responses without a
//! `HandleErrorLayer` closure. See `examples/src/axum_server.rs`.

#[tokio::main]
async fn main() {
    let report = examples::axum_server::demo().await;
    println!(
        "GET /fast with x-request-timeout-ms: 1500 -> {} {:?}",
        report.fast.0, report.fast.1
    );
    println!(
        "GET /slow with x-request-timeout-ms: 200  -> {} {} after {:?}",
        report.slow.0, report.slow.1, report.slow.2
    );
    println!(
        "GET /slow with no deadline of its own     -> {} after {:?} (the server's 1 s limit)",
        report.slow_unbounded.0, report.slow_unbounded.1
    );
}
