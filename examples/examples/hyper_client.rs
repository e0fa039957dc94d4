//! A hyper-util client with every timeout tier, retry of a streaming POST body and
//! a per-host breaker. See `examples/src/hyper_client.rs`.

#[tokio::main]
async fn main() {
    let report = examples::hyper_client::demo().await;
    println!(
        "streaming POST with an Idempotency-Key: HTTP {} after {} attempts",
        report.upload_status,
        report.upload_bodies.len()
    );
    for (n, body) in report.upload_bodies.iter().enumerate() {
        println!("  attempt {}: {} bytes {:?}", n + 1, body.len(), body);
    }
    let classes: Vec<_> = report.down_classes.iter().map(|c| c.as_str()).collect();
    println!("calls to a closed port: {classes:?}");
    println!(
        "breakers: down host {}, upload host {}",
        report.down_breaker.as_str(),
        report.upload_breaker.as_str()
    );
}
