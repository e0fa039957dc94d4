//! The workspace's examples. The resilient API gateway lives here as a library
//! module, so that its example binary (`cargo run --example gateway`) and its
//! tests start the same code; the small examples are under `examples/`.

pub mod axum_server;
pub mod gateway;
pub mod hyper_client;
pub mod tonic_client;
