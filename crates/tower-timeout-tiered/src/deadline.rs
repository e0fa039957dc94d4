//! The [`Deadline`]: the instant by which a call must be done, carried in the
//! request's extensions.

use std::time::Duration;

use tokio::time::Instant;

/// The instant by which a call must be done, and the budget it was set with.
///
/// The outermost deadline layer puts it in the request's extensions; inner layers,
/// the retry layer and handlers read what remains of it with [`Deadline::of`]. A
/// deadline only ever shrinks: [`Deadline::set_on`] keeps an earlier one that is
/// already there.
///
/// ```
/// use std::time::Duration;
/// use tower_timeout_tiered::Deadline;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut req = http::Request::new(());
/// Deadline::after(Duration::from_secs(2)).set_on(&mut req);
/// // A later, longer deadline does not extend it.
/// Deadline::after(Duration::from_secs(10)).set_on(&mut req);
/// assert_eq!(Deadline::of(&req).unwrap().remaining(), Duration::from_secs(2));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    /// A deadline `budget` from now. A budget too large for the clock is a deadline
    /// that never comes in practice (about thirty years away), never a panic.
    pub fn after(budget: Duration) -> Deadline {
        Deadline::after_from(Instant::now(), budget)
    }

    /// A deadline `budget` after `start`.
    pub fn after_from(start: Instant, budget: Duration) -> Deadline {
        Deadline {
            at: add_saturating(start, budget),
            budget,
        }
    }

    /// A deadline at `at`; its budget is what remains from now.
    pub fn at(at: Instant) -> Deadline {
        Deadline {
            at,
            budget: at.saturating_duration_since(Instant::now()),
        }
    }

    /// The instant of the deadline.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The budget the deadline was set with.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// What remains until the deadline, zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        if other.at < self.at { other } else { self }
    }

    /// The deadline in the request's extensions, if there is one.
    pub fn of<B>(request: &http::Request<B>) -> Option<Deadline> {
        request.extensions().get::<Deadline>().copied()
    }

    /// Puts this deadline in the request's extensions, unless an earlier one is
    /// already there. Returns the deadline that is in force.
    pub fn set_on<B>(self, request: &mut http::Request<B>) -> Deadline {
        let effective = match Deadline::of(request) {
            Some(existing) => existing.min(self),
            None => self,
        };
        if Some(effective) != Deadline::of(request) {
            request.extensions_mut().insert(effective);
        }
        effective
    }
}

/// About thirty years: what "never" means for a timer (tokio uses the same bound).
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `start + duration`, or thirty years from `start` if that overflows the clock.
pub(crate) fn add_saturating(start: Instant, duration: Duration) -> Instant {
    start
        .checked_add(duration)
        .or_else(|| start.checked_add(FAR_FUTURE))
        .unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_saturates() {
        let deadline = Deadline::after(Duration::from_millis(300));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(deadline.remaining(), Duration::from_millis(200));
        assert!(!deadline.is_expired());
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(deadline.remaining(), Duration::ZERO);
        assert!(deadline.is_expired());
        assert_eq!(deadline.budget(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_budgets_do_not_overflow() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.remaining() >= FAR_FUTURE - Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_only_shrinks() {
        let mut req = http::Request::new(());
        let short = Deadline::after(Duration::from_secs(1));
        assert_eq!(short.set_on(&mut req), short);
        assert_eq!(
            Deadline::after(Duration::from_secs(5)).set_on(&mut req),
            short
        );
        let shorter = Deadline::after(Duration::from_millis(10));
        assert_eq!(shorter.set_on(&mut req), shorter);
        assert_eq!(Deadline::of(&req), Some(shorter));
    }
}
