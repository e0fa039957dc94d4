//! The concrete errors that the layers of this workspace raise.
//!
//! Each is a small named type that says what happened and with what figures, and
//! each converts into [`Error`] with its class. They live here, at the bottom of the
//! dependency graph, so that any crate (and any user) can find them in a
//! `Box<dyn Error>` by downcasting, without depending on the crate that raised them.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::class::{Class, Rejection, Tier};
use crate::error::{BoxError, Error};

/// A timeout elapsed: which tier, and the duration it was configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    tier: Tier,
    after: Duration,
}

impl Elapsed {
    /// A timeout of `tier` that elapsed after `after`, the configured duration.
    pub const fn new(tier: Tier, after: Duration) -> Elapsed {
        Elapsed { tier, after }
    }

    /// The tier that elapsed.
    pub const fn tier(&self) -> Tier {
        self.tier
    }

    /// The duration the timeout was configured with (for a deadline, the time that
    /// was left when it was set).
    pub const fn after(&self) -> Duration {
        self.after
    }

    /// The class of this failure: see [`Tier::class`].
    pub const fn class(&self) -> Class {
        self.tier.class()
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} timeout of {:?} elapsed", self.tier, self.after)
    }
}

impl StdError for Elapsed {}

impl From<Elapsed> for Error {
    fn from(elapsed: Elapsed) -> Error {
        Error::with_class(elapsed.class(), elapsed)
    }
}

/// The caller's deadline had passed before the work could be done (for example a
/// server-side deadline from `grpc-timeout`, or a call made after its deadline).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeadlineExceeded {
    budget: Option<Duration>,
}

impl DeadlineExceeded {
    /// A deadline exceeded, with the whole budget if it is known.
    pub const fn new(budget: Option<Duration>) -> DeadlineExceeded {
        DeadlineExceeded { budget }
    }

    /// The whole time budget that was spent, if it is known.
    pub const fn budget(&self) -> Option<Duration> {
        self.budget
    }
}

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.budget {
            Some(budget) => write!(f, "deadline of {budget:?} exceeded"),
            None => f.write_str("deadline exceeded"),
        }
    }
}

impl StdError for DeadlineExceeded {}

impl From<DeadlineExceeded> for Error {
    fn from(err: DeadlineExceeded) -> Error {
        Error::with_class(Class::DeadlineExceeded, err)
    }
}

/// A layer of ours refused the call without sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    rejection: Rejection,
}

impl Rejected {
    /// A rejection for the given reason.
    pub const fn new(rejection: Rejection) -> Rejected {
        Rejected { rejection }
    }

    /// A rejection by an open breaker that half-opens after `retry_after`.
    pub const fn breaker_open(retry_after: Duration) -> Rejected {
        Rejected::new(Rejection::BreakerOpen { retry_after })
    }

    /// Why the call was refused.
    pub const fn rejection(&self) -> Rejection {
        self.rejection
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rejection {
            Rejection::BreakerOpen { retry_after } => {
                write!(
                    f,
                    "circuit breaker is open; it half-opens in {retry_after:?}"
                )
            }
            Rejection::BudgetExhausted => f.write_str("retry budget is exhausted"),
            Rejection::LoadShed => f.write_str("load shed"),
        }
    }
}

impl StdError for Rejected {}

impl From<Rejected> for Error {
    fn from(err: Rejected) -> Error {
        Error::with_class(Class::Rejected(err.rejection), err)
    }
}

/// Why a failed call was not tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotRetriedReason {
    /// Every attempt allowed was made.
    AttemptsExhausted {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The failure was ambiguous and the request is not idempotent.
    NotIdempotent,
    /// The request body was larger than the replay buffer, so it could not be sent
    /// again.
    BodyTooLarge {
        /// The replay buffer's cap in bytes.
        limit: usize,
    },
    /// The retry budget was spent.
    BudgetExhausted,
    /// What remained of the deadline was shorter than the next wait.
    DeadlineTooClose {
        /// What remained of the deadline.
        remaining: Duration,
        /// The wait before the next attempt.
        wait: Duration,
    },
    /// The server asked not to retry (a negative `grpc-retry-pushback-ms`).
    ServerPushback,
    /// Reading the request body failed, so it cannot be sent again.
    BodyFailed,
}

impl NotRetriedReason {
    /// A short, stable, snake_case name, fit for a metrics label.
    pub const fn as_str(self) -> &'static str {
        match self {
            NotRetriedReason::AttemptsExhausted { .. } => "attempts_exhausted",
            NotRetriedReason::NotIdempotent => "not_idempotent",
            NotRetriedReason::BodyTooLarge { .. } => "body_too_large",
            NotRetriedReason::BudgetExhausted => "budget_exhausted",
            NotRetriedReason::DeadlineTooClose { .. } => "deadline_too_close",
            NotRetriedReason::ServerPushback => "server_pushback",
            NotRetriedReason::BodyFailed => "body_failed",
        }
    }
}

impl fmt::Display for NotRetriedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NotRetriedReason::AttemptsExhausted { attempts } => {
                write!(f, "all {attempts} attempts failed")
            }
            NotRetriedReason::NotIdempotent => {
                f.write_str("not retried: the request is not idempotent")
            }
            NotRetriedReason::BodyTooLarge { limit } => write!(
                f,
                "not retried: the request body is larger than the {limit}-byte replay buffer"
            ),
            NotRetriedReason::BudgetExhausted => {
                f.write_str("not retried: the retry budget is exhausted")
            }
            NotRetriedReason::DeadlineTooClose { remaining, wait } => write!(
                f,
                "not retried: {remaining:?} left of the deadline, shorter than the {wait:?} wait"
            ),
            NotRetriedReason::ServerPushback => {
                f.write_str("not retried: the server asked not to retry")
            }
            NotRetriedReason::BodyFailed => {
                f.write_str("not retried: reading the request body failed")
            }
        }
    }
}

/// A call failed and was not (or no longer) retried: why, and the last failure.
///
/// Its class is the class of the last failure, intact: a throttled call that could
/// not wait out its `Retry-After` within the deadline is still throttled.
#[derive(Debug)]
pub struct NotRetried {
    reason: NotRetriedReason,
    class: Class,
    last: BoxError,
}

impl NotRetried {
    /// The last failure, of class `class`, was not retried for `reason`.
    pub fn new(reason: NotRetriedReason, class: Class, last: impl Into<BoxError>) -> NotRetried {
        NotRetried {
            reason,
            class,
            last: last.into(),
        }
    }

    /// Why it was not retried.
    pub fn reason(&self) -> NotRetriedReason {
        self.reason
    }

    /// The class of the last failure.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The last failure.
    pub fn last(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.last
    }
}

impl fmt::Display for NotRetried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.reason, f)
    }
}

impl StdError for NotRetried {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.last)
    }
}

impl From<NotRetried> for Error {
    fn from(err: NotRetried) -> Error {
        Error::with_class(err.class, err)
    }
}
