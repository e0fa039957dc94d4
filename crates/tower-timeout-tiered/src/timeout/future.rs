use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep_until};
use tower_error_class::{BoxError, Error, Tier};

use super::Tiers;
use crate::Deadline;
use crate::alarm::{Alarm, earliest};
use crate::body::{BodyTimers, TimeoutBody};

pin_project! {
    /// The response future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Option<Sleep>,
        tiers: Tiers,
        deadline: Option<Deadline>,
        start: Option<Instant>,
        alarm: Option<Alarm>,
        bound_body: bool,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        tiers: Tiers,
        deadline: Option<Deadline>,
        start: Option<Instant>,
        bound_body: bool,
    ) -> Self {
        ResponseFuture {
            inner,
            sleep: None,
            tiers,
            deadline,
            start,
            alarm: None,
            bound_body,
        }
    }
}

/// The alarm that bounds the wait for the response head: the deadline, the attempt
/// and the response-headers tier, whichever fires first.
fn head_alarm(tiers: &Tiers, deadline: Option<Deadline>, start: Instant) -> Option<Alarm> {
    let total = deadline.map(Alarm::deadline);
    let attempt = tiers.attempt.map(|d| Alarm::start(Tier::Attempt, start, d));
    let headers = tiers
        .response_headers
        .map(|d| Alarm::start(Tier::ResponseHeaders, start, d));
    earliest(earliest(total, attempt), headers)
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<TimeoutBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(match result {
                Ok(response) => {
                    let timers = if *this.bound_body {
                        BodyTimers::new(this.tiers, *this.deadline, *this.start)
                    } else {
                        BodyTimers::default()
                    };
                    Ok(response.map(|body| TimeoutBody::new(body, timers)))
                }
                // An inner layer may give up in the very instant our tier does
                // (tonic's channel enforces the grpc-timeout we wrote): when the
                // time is up, it is our timeout, whatever the inner error says.
                Err(err) => match this.alarm {
                    Some(alarm) if Instant::now() >= alarm.at => Err(alarm.error()),
                    _ => Err(Error::wrap(err)),
                },
            });
        }
        if this.sleep.is_none() {
            let has_head_tier = this.deadline.is_some()
                || this.tiers.attempt.is_some()
                || this.tiers.response_headers.is_some();
            if !has_head_tier {
                return Poll::Pending;
            }
            // The first time the inner future is pending: start the clock (unless
            // readiness already did) and register the one timer.
            let start = *this.start.get_or_insert_with(Instant::now);
            let alarm = head_alarm(this.tiers, *this.deadline, start);
            *this.alarm = alarm;
            if let Some(alarm) = alarm {
                this.sleep.set(Some(sleep_until(alarm.at)));
            }
        }
        if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
            ready!(sleep.poll(cx));
            if let Some(alarm) = this.alarm {
                return Poll::Ready(Err(alarm.error()));
            }
        }
        Poll::Pending
    }
}
