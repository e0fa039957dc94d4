//! Alarms: the instants at which a tier's timeout fires, and which fires first.

use std::time::Duration;

use tokio::time::Instant;
use tower_error_class::{Elapsed, Error, Tier};

use crate::Deadline;
use crate::deadline::add_saturating;

/// When a tier's timeout fires, and what it reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Alarm {
    pub(crate) at: Instant,
    pub(crate) tier: Tier,
    /// The configured duration, reported in the error.
    pub(crate) after: Duration,
}

impl Alarm {
    /// The alarm of a tier configured with `after`, started at `start`.
    pub(crate) fn start(tier: Tier, start: Instant, after: Duration) -> Alarm {
        Alarm {
            at: add_saturating(start, after),
            tier,
            after,
        }
    }

    /// The alarm of the total deadline.
    pub(crate) fn deadline(deadline: Deadline) -> Alarm {
        Alarm {
            at: deadline.instant(),
            tier: Tier::Total,
            after: deadline.budget(),
        }
    }

    /// The error this alarm reports when it fires.
    pub(crate) fn error(self) -> Error {
        Error::from(Elapsed::new(self.tier, self.after))
    }
}

/// The earlier of two alarms; on a tie, `first` (so callers list the deadline
/// first: when the deadline and a tier fire together, the caller's budget is spent,
/// and that is what is reported).
pub(crate) fn earliest(first: Option<Alarm>, second: Option<Alarm>) -> Option<Alarm> {
    match (first, second) {
        (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}
