//! [`Timeouts`]: every tier in one validated configuration.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;
use tower_error_class::Tier;

use crate::{ConnectTimeoutLayer, DeadlineLayer, Propagation, TimeoutLayer};

/// Every timeout tier of a client, validated together.
///
/// The layers' own constructors take durations as given; this is the way in for
/// configuration that comes from a file or a user, which should be refused with a
/// clear error rather than behave oddly: a zero duration, a duration the clock
/// cannot hold, or a tier that could never fire because a wider one fires first
/// (an attempt longer than the total, response headers longer than the attempt).
///
/// ```
/// use std::time::Duration;
/// use tower_timeout_tiered::{ConfigError, Timeouts};
///
/// let tiers = Timeouts::new()
///     .connect(Duration::from_millis(250))
///     .response_headers(Duration::from_secs(1))
///     .attempt(Duration::from_secs(2))
///     .total(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert!(tiers.deadline_layer().is_some());
///
/// let err = Timeouts::new()
///     .attempt(Duration::from_secs(10))
///     .total(Duration::from_secs(5))
///     .build()
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the attempt timeout (10s) is longer than the total deadline (5s): it could never fire"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    connect: Option<Duration>,
    response_headers: Option<Duration>,
    attempt: Option<Duration>,
    total: Option<Duration>,
    body_idle: Option<Duration>,
    body_total: Option<Duration>,
}

impl Timeouts {
    /// No tier set.
    pub fn new() -> Timeouts {
        Timeouts::default()
    }

    /// The connect tier (TCP connect and TLS handshake).
    pub fn connect(mut self, timeout: Duration) -> Timeouts {
        self.connect = Some(timeout);
        self
    }

    /// The response-headers tier (time to first byte).
    pub fn response_headers(mut self, timeout: Duration) -> Timeouts {
        self.response_headers = Some(timeout);
        self
    }

    /// The per-attempt tier.
    pub fn attempt(mut self, timeout: Duration) -> Timeouts {
        self.attempt = Some(timeout);
        self
    }

    /// The total deadline.
    pub fn total(mut self, timeout: Duration) -> Timeouts {
        self.total = Some(timeout);
        self
    }

    /// The body-idle tier.
    pub fn body_idle(mut self, timeout: Duration) -> Timeouts {
        self.body_idle = Some(timeout);
        self
    }

    /// The body-total tier.
    pub fn body_total(mut self, timeout: Duration) -> Timeouts {
        self.body_total = Some(timeout);
        self
    }

    /// Validates the tiers.
    pub fn build(self) -> Result<TieredTimeouts, ConfigError> {
        let tiers = [
            (Tier::Connect, self.connect),
            (Tier::ResponseHeaders, self.response_headers),
            (Tier::Attempt, self.attempt),
            (Tier::Total, self.total),
            (Tier::BodyIdle, self.body_idle),
            (Tier::BodyTotal, self.body_total),
        ];
        let now = Instant::now();
        for (tier, duration) in tiers {
            let Some(duration) = duration else { continue };
            if duration.is_zero() {
                return Err(ConfigError::Zero { tier });
            }
            if now.checked_add(duration).is_none() {
                return Err(ConfigError::Overflow { tier, duration });
            }
        }
        let longer = |inner: Option<Duration>, outer: Option<Duration>| match (inner, outer) {
            (Some(inner), Some(outer)) if inner > outer => Some((inner, outer)),
            _ => None,
        };
        for (inner_tier, inner, outer_tier, outer) in [
            (Tier::Attempt, self.attempt, Tier::Total, self.total),
            (
                Tier::ResponseHeaders,
                self.response_headers,
                Tier::Attempt,
                self.attempt,
            ),
            (
                Tier::ResponseHeaders,
                self.response_headers,
                Tier::Total,
                self.total,
            ),
            (Tier::Connect, self.connect, Tier::Total, self.total),
        ] {
            if let Some((inner, outer)) = longer(inner, outer) {
                return Err(ConfigError::Unreachable {
                    tier: inner_tier,
                    duration: inner,
                    bound: outer_tier,
                    bound_duration: outer,
                });
            }
        }
        Ok(TieredTimeouts { tiers: self })
    }
}

/// Validated [`Timeouts`], ready to make layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TieredTimeouts {
    tiers: Timeouts,
}

impl TieredTimeouts {
    /// The configuration.
    pub fn timeouts(&self) -> Timeouts {
        self.tiers
    }

    /// The connector layer, if a connect tier is set.
    pub fn connect_layer(&self) -> Option<ConnectTimeoutLayer> {
        self.tiers.connect.map(ConnectTimeoutLayer::new)
    }

    /// The total-deadline layer, if a total is set. It is meant to sit above
    /// [`attempt_layer`](Self::attempt_layer) (with the retry layer between them),
    /// which bounds each response body by this deadline, so it leaves the body to
    /// it and a request has one body timer
    /// ([`DeadlineLayer::leave_body_to_attempts`]).
    pub fn deadline_layer(&self) -> Option<DeadlineLayer> {
        self.tiers
            .total
            .map(|total| DeadlineLayer::new(total).leave_body_to_attempts())
    }

    /// The per-attempt layer, with the response-headers, attempt and body tiers that
    /// are set, propagating as `propagation` says.
    pub fn attempt_layer(&self, propagation: Propagation) -> TimeoutLayer {
        let t = self.tiers;
        let mut layer = TimeoutLayer::new().propagate(propagation);
        if let Some(d) = t.response_headers {
            layer = layer.response_headers(d);
        }
        if let Some(d) = t.attempt {
            layer = layer.attempt(d);
        }
        if let Some(d) = t.body_idle {
            layer = layer.body_idle(d);
        }
        if let Some(d) = t.body_total {
            layer = layer.body_total(d);
        }
        layer
    }
}

/// A timeout configuration that was refused, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A tier was set to zero, which would fail every call at once.
    Zero {
        /// The tier.
        tier: Tier,
    },
    /// A duration is too large for the clock to hold.
    Overflow {
        /// The tier.
        tier: Tier,
        /// The duration given.
        duration: Duration,
    },
    /// A tier is longer than a tier that bounds it, so it could never fire.
    Unreachable {
        /// The tier that could never fire.
        tier: Tier,
        /// Its duration.
        duration: Duration,
        /// The tier that fires first.
        bound: Tier,
        /// Its duration.
        bound_duration: Duration,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::Zero { tier } => {
                write!(
                    f,
                    "the {tier} timeout is zero: every call would fail at once"
                )
            }
            ConfigError::Overflow { tier, duration } => write!(
                f,
                "the {tier} timeout ({duration:?}) is too large for the clock"
            ),
            ConfigError::Unreachable {
                tier,
                duration,
                bound,
                bound_duration,
            } => {
                let bound = match bound {
                    Tier::Total => "total deadline".to_owned(),
                    other => format!("{other} timeout"),
                };
                write!(
                    f,
                    "the {tier} timeout ({duration:?}) is longer than the {bound} ({bound_duration:?}): it could never fire"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_overflow_are_refused() {
        assert_eq!(
            Timeouts::new().attempt(Duration::ZERO).build(),
            Err(ConfigError::Zero {
                tier: Tier::Attempt
            })
        );
        assert_eq!(
            Timeouts::new().total(Duration::MAX).build(),
            Err(ConfigError::Overflow {
                tier: Tier::Total,
                duration: Duration::MAX
            })
        );
    }

    #[test]
    fn unreachable_tiers_are_refused() {
        let err = Timeouts::new()
            .response_headers(Duration::from_secs(3))
            .attempt(Duration::from_secs(2))
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the response headers timeout (3s) is longer than the attempt timeout (2s): it could never fire"
        );
        assert!(
            Timeouts::new()
                .connect(Duration::from_secs(6))
                .total(Duration::from_secs(5))
                .build()
                .is_err()
        );
    }

    #[test]
    fn a_consistent_configuration_builds_every_layer() {
        let built = Timeouts::new()
            .connect(Duration::from_millis(100))
            .response_headers(Duration::from_millis(500))
            .attempt(Duration::from_secs(1))
            .total(Duration::from_secs(3))
            .body_idle(Duration::from_millis(200))
            .build()
            .unwrap();
        assert!(built.connect_layer().is_some());
        assert_eq!(
            built.deadline_layer().unwrap().total(),
            Duration::from_secs(3)
        );
        let tiers = built.attempt_layer(Propagation::Grpc).tiers();
        assert_eq!(tiers.attempt, Some(Duration::from_secs(1)));
        assert_eq!(tiers.body_idle, Some(Duration::from_millis(200)));
        assert_eq!(tiers.body_total, None);
    }
}
