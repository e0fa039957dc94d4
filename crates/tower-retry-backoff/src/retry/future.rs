use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use fastrand::Rng;
use http::request::Parts;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep};
use tower_error_class::grpc::{GRPC_RETRY_PUSHBACK_MS, parse_retry_pushback};
use tower_error_class::{BoxError, Class, Classifier, Error, NotRetried, NotRetriedReason};
use tower_service::Service;
use tower_timeout_tiered::Deadline;

use super::Shared;
use crate::backoff::Backoff;
use crate::replay::{Obstacle, Replay, ReplayBody};
use crate::stats::RetryEvent;

pin_project! {
    /// The response future of [`Retry`](super::Retry).
    pub struct ResponseFuture<S, ReqBody, C, B>
    where
        S: Service<Request<ReplayBody<ReqBody>>>,
    {
        #[pin]
        state: State<S::Future>,
        // The clone that makes the retries; `None` when retries are off.
        service: Option<S>,
        shared: Arc<Shared<C, B>>,
        // The request head for the next attempt.
        template: Option<Parts>,
        replay: Replay<ReqBody>,
        idempotent: bool,
        deadline: Option<Deadline>,
        attempt: u32,
        previous_delay: Option<Duration>,
        rng: Option<Rng>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] future: F },
        Waiting { #[pin] sleep: Sleep },
        Readying,
    }
}

impl<S, ReqBody, C, B> ResponseFuture<S, ReqBody, C, B>
where
    S: Service<Request<ReplayBody<ReqBody>>>,
{
    pub(super) fn new(
        future: S::Future,
        service: Option<S>,
        shared: Arc<Shared<C, B>>,
        template: Option<Parts>,
        replay: Replay<ReqBody>,
        idempotent: bool,
        deadline: Option<Deadline>,
    ) -> Self {
        ResponseFuture {
            state: State::Calling { future },
            service,
            shared,
            template,
            replay,
            idempotent,
            deadline,
            attempt: 1,
            previous_delay: None,
            rng: None,
        }
    }
}

/// What to do after a failed attempt.
enum Next {
    Retry(Duration),
    Stop(Option<NotRetriedReason>),
}

impl<S, ReqBody, C, B, ResBody> Future for ResponseFuture<S, ReqBody, C, B>
where
    S: Service<Request<ReplayBody<ReqBody>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    C: Classifier<Response<ResBody>>,
    B: Backoff,
    ReqBody: Body,
{
    type Output = Result<Response<ResBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let outcome = ready!(future.poll(cx)).map_err(Into::<BoxError>::into);
                    let shared = &**this.shared;
                    let class = match &outcome {
                        Ok(response) => shared.policy.classifier.classify(Ok(response)),
                        Err(err) => shared.policy.classifier.classify(Err(&**err)),
                    };
                    let attempts = *this.attempt;
                    if class.is_success() {
                        shared.policy.budget.record(true);
                        shared.stats.succeeded(attempts);
                        return Poll::Ready(outcome.map_err(Error::wrap));
                    }
                    if class.is_retryable(true) {
                        shared.policy.budget.record(false);
                    }
                    let pushback = match &outcome {
                        Ok(response) => response
                            .headers()
                            .get(GRPC_RETRY_PUSHBACK_MS)
                            .and_then(|v| parse_retry_pushback(v.as_bytes()).ok()),
                        Err(_) => None,
                    };
                    let next = decide(
                        shared,
                        class,
                        attempts,
                        *this.idempotent,
                        pushback,
                        this.replay.obstacle(),
                        *this.deadline,
                        *this.previous_delay,
                        this.rng,
                    );
                    match next {
                        Next::Stop(reason) => {
                            match reason {
                                Some(reason) => shared.stats.failed(attempts, Some(reason)),
                                None => shared.stats.not_retryable(attempts),
                            }
                            tracing::debug!(
                                attempt = attempts,
                                class = class.as_str(),
                                reason = reason.map(NotRetriedReason::as_str),
                                "not retried"
                            );
                            return Poll::Ready(finish(outcome, class, reason));
                        }
                        Next::Retry(delay) => {
                            shared.stats.retry();
                            let event = RetryEvent {
                                attempt: attempts,
                                class,
                                delay,
                            };
                            tracing::debug!(
                                attempt = attempts,
                                class = class.as_str(),
                                delay_ms = delay.as_secs_f64() * 1000.0,
                                "retrying"
                            );
                            if let Some(listener) = &shared.policy.listener {
                                listener(&event);
                            }
                            *this.previous_delay = Some(delay);
                            // The failed response (if any) is dropped here, which
                            // releases its connection.
                            drop(outcome);
                            if delay.is_zero() {
                                this.state.set(State::Readying);
                            } else {
                                this.state.set(State::Waiting {
                                    sleep: sleep(delay),
                                });
                            }
                        }
                    }
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    let service = this
                        .service
                        .as_mut()
                        .expect("retries are only planned with a service");
                    if let Err(err) = ready!(service.poll_ready(cx)) {
                        return Poll::Ready(Err(Error::wrap(err)));
                    }
                    *this.attempt += 1;
                    let last = *this.attempt >= this.shared.policy.max_attempts;
                    let mut parts = if last {
                        this.template.take().expect("a head is kept for each retry")
                    } else {
                        this.template
                            .clone()
                            .expect("a head is kept for each retry")
                    };
                    if let Some(header) = &this.shared.policy.attempt_header {
                        parts
                            .headers
                            .insert(header.clone(), HeaderValue::from(*this.attempt - 1));
                    }
                    let request = Request::from_parts(parts, this.replay.next());
                    let future = service.call(request);
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}

/// Decides whether a failed attempt of class `class` is retried, and after how
/// long.
#[allow(clippy::too_many_arguments)]
fn decide<C, B: Backoff>(
    shared: &Shared<C, B>,
    class: Class,
    attempts: u32,
    idempotent: bool,
    pushback: Option<Option<Duration>>,
    obstacle: Option<Obstacle>,
    deadline: Option<Deadline>,
    previous: Option<Duration>,
    rng: &mut Option<Rng>,
) -> Next {
    let policy = &shared.policy;
    if !class.is_retryable(idempotent) {
        return Next::Stop(if class.is_retryable(true) {
            Some(NotRetriedReason::NotIdempotent)
        } else {
            None
        });
    }
    if attempts >= policy.max_attempts {
        return Next::Stop(Some(NotRetriedReason::AttemptsExhausted { attempts }));
    }
    if pushback == Some(None) {
        return Next::Stop(Some(NotRetriedReason::ServerPushback));
    }
    match obstacle {
        Some(Obstacle::TooLarge(limit)) => {
            return Next::Stop(Some(NotRetriedReason::BodyTooLarge { limit }));
        }
        Some(Obstacle::Failed) => return Next::Stop(Some(NotRetriedReason::BodyFailed)),
        None => {}
    }
    let rng = rng.get_or_insert_with(|| {
        let n = shared.draws.fetch_add(1, Ordering::Relaxed);
        Rng::with_seed(shared.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    });
    let asked = pushback.flatten().or_else(|| class.retry_after());
    let delay = match asked {
        // The server said how long: that, capped, plus a little so that clients
        // told the same do not all return in the same instant.
        Some(asked) => {
            let capped = asked.min(policy.retry_after_cap);
            let spread = (capped / 10).min(Duration::from_secs(1));
            capped + spread.mul_f64(rng.f64())
        }
        None => policy.backoff.delay(attempts - 1, previous, rng),
    };
    if let Some(deadline) = deadline {
        let remaining = deadline.remaining();
        if remaining <= delay {
            return Next::Stop(Some(NotRetriedReason::DeadlineTooClose {
                remaining,
                wait: delay,
            }));
        }
    }
    if !policy.budget.withdraw() {
        return Next::Stop(Some(NotRetriedReason::BudgetExhausted));
    }
    Next::Retry(delay)
}

/// The final outcome: a response as it came, with its class and the reason in its
/// extensions; an error wrapped in `NotRetried` when it could have been retried.
fn finish<ResBody>(
    outcome: Result<Response<ResBody>, BoxError>,
    class: Class,
    reason: Option<NotRetriedReason>,
) -> Result<Response<ResBody>, Error> {
    match outcome {
        Ok(mut response) => {
            response.extensions_mut().insert(class);
            if let Some(reason) = reason {
                response.extensions_mut().insert(reason);
            }
            Ok(response)
        }
        Err(err) => Err(match reason {
            Some(reason) => Error::from(NotRetried::new(
                reason,
                class,
                Error::with_class(class, err),
            )),
            None => Error::with_class(class, err),
        }),
    }
}
