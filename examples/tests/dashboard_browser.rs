//! The dashboard in a real browser: headless Chromium loads the page, which polls
//! the gateway; after a breaker is tripped by real traffic, the rendered DOM shows
//! that service as open. `.ci/run` installs Debian's `chromium`; where it is
//! missing outside CI, the test says so and passes only if `CI` is unset.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use examples::gateway::{Options, start};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
}

#[tokio::test]
async fn the_dashboard_shows_a_tripped_breaker_as_open() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium installed (.ci/run installs it)"
        );
        eprintln!("skipped: no chromium on this machine");
        return;
    };
    let running = start(Options {
        config: None,
        listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        traffic: false,
    })
    .await
    .unwrap();

    // Trip the "down" service's breaker (3 consecutive failures, retries
    // included) with real calls: the port refuses connections.
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for _ in 0..3 {
        let request = http::Request::get(format!("http://{}/down/", running.proxy))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let status = client.request(request).await.unwrap().status();
        // 502 while the attempts reach the port; 503 once the breaker refuses.
        assert!(status == 502 || status == 503, "{status}");
    }
    let down = running.gateway.service("down").unwrap();
    assert_eq!(down.breaker.state().as_str(), "open");

    let url = format!("http://{}/dashboard", running.admin);
    let profile = std::env::temp_dir().join(format!("chromium-{}", fastrand::u64(..)));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // Lets the page's scripts run (and fetch) before the DOM is dumped.
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains(r#"data-service="down" data-state="open""#),
        "the rendered page does not show `down` as open:\n{dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dom.contains(r#"data-service="steady" data-state="closed""#));
    assert!(
        dom.contains("closed → open"),
        "the timeline shows the change"
    );
    running.shutdown(Duration::from_secs(2)).await;
}
