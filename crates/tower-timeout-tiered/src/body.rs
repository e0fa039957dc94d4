//! [`TimeoutBody`]: the response body under the body tiers, the attempt and the
//! deadline.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower_error_class::{BoxError, Error, Tier};

use crate::Deadline;
use crate::alarm::{Alarm, earliest};
use crate::deadline::add_saturating;
use crate::timeout::Tiers;

/// The alarms of one body.
///
/// Tiers that count from the head (body total, body idle, and the attempt when its
/// clock has not started) stay relative until the body is first pending: a body
/// that is read straight through costs no clock read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BodyTimers {
    /// The earliest of the absolute alarms: deadline, attempt, body total.
    fixed: Option<Alarm>,
    /// Tiers not started yet.
    unstarted: Option<Unstarted>,
    /// The idle timeout, and when it fires now.
    idle: Option<(Duration, Instant)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Unstarted {
    attempt: Option<Duration>,
    body_total: Option<Duration>,
    body_idle: Option<Duration>,
}

impl BodyTimers {
    /// The alarms for a body whose head has arrived.
    pub(crate) fn new(tiers: &Tiers, deadline: Option<Deadline>, start: Option<Instant>) -> Self {
        let attempt_started = start.zip(tiers.attempt);
        let unstarted = Unstarted {
            attempt: tiers.attempt.filter(|_| attempt_started.is_none()),
            body_total: tiers.body_total,
            body_idle: tiers.body_idle,
        };
        let any_unstarted = unstarted.attempt.is_some()
            || unstarted.body_total.is_some()
            || unstarted.body_idle.is_some();
        BodyTimers {
            fixed: earliest(
                deadline.map(Alarm::deadline),
                attempt_started.map(|(start, d)| Alarm::start(Tier::Attempt, start, d)),
            ),
            unstarted: any_unstarted.then_some(unstarted),
            idle: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.fixed.is_none() && self.unstarted.is_none() && self.idle.is_none()
    }

    /// Starts the relative tiers, now.
    fn start(&mut self) {
        let Some(unstarted) = self.unstarted.take() else {
            return;
        };
        let now = Instant::now();
        let attempt = unstarted
            .attempt
            .map(|d| Alarm::start(Tier::Attempt, now, d));
        let body_total = unstarted
            .body_total
            .map(|d| Alarm::start(Tier::BodyTotal, now, d));
        self.fixed = earliest(earliest(self.fixed, attempt), body_total);
        self.idle = unstarted.body_idle.map(|d| (d, add_saturating(now, d)));
    }

    /// The alarm that fires first.
    fn next(&self) -> Option<Alarm> {
        let idle = self.idle.map(|(after, at)| Alarm {
            at,
            tier: Tier::BodyIdle,
            after,
        });
        earliest(self.fixed, idle)
    }
}

pin_project! {
    /// A response body under the body tiers (idle and total), the rest of the
    /// attempt, and the deadline. Its errors are [`Error`]s; a timeout is an
    /// [`Elapsed`](tower_error_class::Elapsed) that names its tier.
    ///
    /// With no tier that applies to it, it is a plain wrapper: no timer, no clock
    /// read.
    pub struct TimeoutBody<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: Option<Sleep>,
        timers: BodyTimers,
        failed: bool,
    }
}

impl<B> TimeoutBody<B> {
    pub(crate) fn new(inner: B, timers: BodyTimers) -> TimeoutBody<B> {
        TimeoutBody {
            inner,
            sleep: None,
            timers,
            failed: false,
        }
    }

    /// Unwraps the inner body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> Body for TimeoutBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        if *this.failed {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            // Every frame resets the idle tier. The timer itself is moved lazily,
            // when it fires.
            if let (Some((after, at)), Some(Ok(_))) = (&mut this.timers.idle, &frame) {
                *at = add_saturating(Instant::now(), *after);
            }
            if let Some(Err(err)) = frame {
                // As for the head: an inner error when our time is up is our timeout.
                let expired = this.sleep.is_some()
                    && this
                        .timers
                        .next()
                        .is_some_and(|alarm| Instant::now() >= alarm.at);
                return Poll::Ready(Some(Err(match this.timers.next() {
                    Some(alarm) if expired => alarm.error(),
                    _ => Error::wrap(err),
                })));
            }
            return Poll::Ready(frame.map(|result| result.map_err(Error::wrap)));
        }
        if this.timers.is_empty() {
            return Poll::Pending;
        }
        this.timers.start();
        loop {
            let Some(alarm) = this.timers.next() else {
                return Poll::Pending;
            };
            match this.sleep.as_mut().as_pin_mut() {
                None => this.sleep.set(Some(sleep_until(alarm.at))),
                Some(sleep) if sleep.deadline() != alarm.at => {
                    if sleep.is_elapsed() || alarm.at < sleep.deadline() {
                        sleep.reset(alarm.at);
                    }
                }
                Some(_) => {}
            }
            let sleep = this.sleep.as_mut().as_pin_mut().expect("set above");
            ready!(sleep.poll(cx));
            if Instant::now() >= alarm.at {
                *this.failed = true;
                return Poll::Ready(Some(Err(alarm.error())));
            }
            // The idle alarm moved on since the timer was set: set it again.
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Default> Default for TimeoutBody<B> {
    /// An empty inner body under no tier (as error responses use).
    fn default() -> Self {
        TimeoutBody::new(B::default(), BodyTimers::default())
    }
}

impl<B: fmt::Debug> fmt::Debug for TimeoutBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimeoutBody")
            .field("inner", &self.inner)
            .field("timers", &self.timers)
            .finish()
    }
}
