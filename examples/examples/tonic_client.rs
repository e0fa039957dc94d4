//! A tonic client with deadline propagation, retry on UNAVAILABLE and a breaker.
//! See `examples/src/tonic_client.rs`.

#[tokio::main]
async fn main() {
    let report = examples::tonic_client::demo().await;
    for (n, (timeout, previous)) in report.attempts.iter().enumerate() {
        println!(
            "attempt {}: grpc-timeout {:?}, grpc-previous-rpc-attempts {:?}",
            n + 1,
            timeout,
            previous
        );
    }
    println!(
        "health: {:?}; breaker {}",
        report.status,
        report.breaker.as_str()
    );
}
