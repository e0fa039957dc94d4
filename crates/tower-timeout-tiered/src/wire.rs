//! The deadline on the wire: `grpc-timeout`, or a header in milliseconds.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tower_error_class::grpc::{GRPC_TIMEOUT, format_grpc_timeout, parse_grpc_timeout};

/// Where a deadline travels between processes.
///
/// Client side, a layer with a propagation writes what remains of the deadline
/// (clamped to the attempt's own timeout) into the request; server side,
/// [`ServerDeadlineLayer`](crate::ServerDeadlineLayer) reads it back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Nothing is written or read.
    #[default]
    None,
    /// gRPC's `grpc-timeout` (at most eight digits and a unit), as tonic and every
    /// gRPC implementation read it.
    Grpc,
    /// A header of your choice holding whole milliseconds, for plain HTTP services
    /// (for example `x-request-timeout-ms`).
    Millis(HeaderName),
}

impl Propagation {
    /// A millisecond header named `name` (for example `"x-request-timeout-ms"`).
    pub fn millis(name: &'static str) -> Propagation {
        Propagation::Millis(HeaderName::from_static(name))
    }

    /// Whether anything is written or read.
    pub fn is_none(&self) -> bool {
        matches!(self, Propagation::None)
    }

    fn name(&self) -> Option<HeaderName> {
        match self {
            Propagation::None => None,
            Propagation::Grpc => Some(HeaderName::from_static(GRPC_TIMEOUT)),
            Propagation::Millis(name) => Some(name.clone()),
        }
    }

    /// Reads the timeout from `headers`: `Ok(None)` if there is none, `Err` with the
    /// header's name if it is malformed.
    pub fn read(&self, headers: &HeaderMap) -> Result<Option<Duration>, HeaderName> {
        let Some(name) = self.name() else {
            return Ok(None);
        };
        let Some(value) = headers.get(&name) else {
            return Ok(None);
        };
        let parsed = match self {
            Propagation::Grpc => parse_grpc_timeout(value.as_bytes()).ok(),
            _ => parse_millis(value.as_bytes()),
        };
        parsed.map(Some).ok_or(name)
    }

    /// Writes `remaining` into `headers`, keeping a shorter timeout that is already
    /// there.
    pub fn write(&self, headers: &mut HeaderMap, remaining: Duration) {
        let Some(name) = self.name() else {
            return;
        };
        let remaining = match self.read(headers) {
            Ok(Some(existing)) => existing.min(remaining),
            _ => remaining,
        };
        let value = match self {
            Propagation::Grpc => format_grpc_timeout(remaining),
            _ => HeaderValue::from(u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX)),
        };
        headers.insert(name, value);
    }
}

fn parse_millis(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis = value.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_grpc_timeout() {
        let mut headers = HeaderMap::new();
        Propagation::Grpc.write(&mut headers, Duration::from_millis(1500));
        assert_eq!(headers["grpc-timeout"], "1500000u");
        assert_eq!(
            Propagation::Grpc.read(&headers),
            Ok(Some(Duration::from_millis(1500)))
        );
    }

    #[test]
    fn writing_keeps_a_shorter_timeout_already_there() {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_static("100m"));
        Propagation::Grpc.write(&mut headers, Duration::from_secs(5));
        assert_eq!(headers["grpc-timeout"], "100000u");
    }

    #[test]
    fn millis_header_round_trips_and_rejects_garbage() {
        let prop = Propagation::millis("x-request-timeout-ms");
        let mut headers = HeaderMap::new();
        prop.write(&mut headers, Duration::from_micros(2_500_900));
        assert_eq!(headers["x-request-timeout-ms"], "2500");
        assert_eq!(prop.read(&headers), Ok(Some(Duration::from_millis(2500))));
        headers.insert("x-request-timeout-ms", HeaderValue::from_static("-1"));
        assert!(prop.read(&headers).is_err());
        headers.insert(
            "x-request-timeout-ms",
            HeaderValue::from_static("99999999999999999999"),
        );
        assert!(prop.read(&headers).is_err());
    }
}
