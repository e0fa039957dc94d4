use std::sync::Arc;

use tokio::sync::broadcast;
use tower_error_class::{Class, HttpClassifier};
use tower_layer::Layer;

use super::{Breaker, VerdictFn};
use crate::config::{BreakerConfig, ConfigError};
use crate::shared::{BreakerHandle, OnStateChange, Shared, StateChange};

/// Applies one [`Breaker`] to every service it makes: they (and their clones)
/// share its state. For one breaker per upstream host, see
/// [`KeyedBreakerLayer`](crate::KeyedBreakerLayer).
///
/// ```
/// use std::time::Duration;
/// use tower::ServiceBuilder;
/// use tower_breaker::{BreakerConfig, BreakerLayer};
///
/// # let client = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(()))
/// # });
/// let config = BreakerConfig::new()
///     .consecutive_failures(3)
///     .open_for(Duration::from_secs(5))
///     .successes_to_close(2)
///     .build()
///     .unwrap();
/// let breaker = BreakerLayer::new(config).named("inventory");
/// let handle = breaker.handle();
/// let svc = ServiceBuilder::new().layer(breaker).service(client);
/// assert_eq!(handle.state().as_str(), "closed");
/// ```
pub struct BreakerLayer<C = HttpClassifier> {
    config: BreakerConfig,
    shared: Arc<Shared>,
    events: broadcast::Sender<StateChange>,
    callback: Option<OnStateChange>,
    name: Option<Arc<str>>,
    classifier: C,
    verdict: VerdictFn,
    backpressure: bool,
}

impl<C: Clone> Clone for BreakerLayer<C> {
    fn clone(&self) -> Self {
        BreakerLayer {
            config: self.config,
            shared: self.shared.clone(),
            events: self.events.clone(),
            callback: self.callback.clone(),
            name: self.name.clone(),
            classifier: self.classifier.clone(),
            verdict: self.verdict,
            backpressure: self.backpressure,
        }
    }
}

impl<C> std::fmt::Debug for BreakerLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerLayer")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("state", &self.shared.circuit.state())
            .finish()
    }
}

impl BreakerLayer {
    /// A breaker configured by `config` (validate it with
    /// [`BreakerConfig::build`]), classifying HTTP responses.
    pub fn new(config: BreakerConfig) -> BreakerLayer {
        let (events, _) = broadcast::channel(64);
        BreakerLayer {
            shared: Shared::new(config, None, events.clone(), None),
            config,
            events,
            callback: None,
            name: None,
            classifier: HttpClassifier::new(),
            verdict: Class::breaker,
            backpressure: false,
        }
    }

    /// Validates `config`, then as [`BreakerLayer::new`].
    pub fn try_new(config: BreakerConfig) -> Result<BreakerLayer, ConfigError> {
        config.build().map(BreakerLayer::new)
    }
}

impl<C> BreakerLayer<C> {
    fn rebuild(mut self) -> Self {
        self.shared = Shared::new(
            self.config,
            self.name.clone(),
            self.events.clone(),
            self.callback.clone(),
        );
        self
    }

    /// Names the breaker (in events, logs and metrics).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.into());
        self.rebuild()
    }

    /// Calls `callback` on every state change.
    pub fn on_state_change(
        mut self,
        callback: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.callback = Some(Arc::new(callback));
        self.rebuild()
    }

    /// The classifier that names each outcome (an
    /// [`ErrorClassifier`](tower_error_class::ErrorClassifier) for non-HTTP
    /// services, a [`GrpcClassifier`](tower_error_class::GrpcClassifier), or your
    /// own).
    pub fn classifier<C2>(self, classifier: C2) -> BreakerLayer<C2> {
        BreakerLayer {
            config: self.config,
            shared: self.shared,
            events: self.events,
            callback: self.callback,
            name: self.name,
            classifier,
            verdict: self.verdict,
            backpressure: self.backpressure,
        }
    }

    /// What the breaker makes of each class; [`Class::breaker`] by default (server
    /// errors, transport failures, connect failures and attempt timeouts are
    /// failures; client errors, cancellations, throttling and local rejections are
    /// not).
    pub fn verdict(mut self, verdict: VerdictFn) -> Self {
        self.verdict = verdict;
        self
    }

    /// Makes `poll_ready` wait while the breaker is open (until it half-opens),
    /// instead of `call` refusing. Half-open with every probe slot taken, and
    /// forced open, still refuse in `call`: there is no instant to wait for.
    pub fn backpressure(mut self, on: bool) -> Self {
        self.backpressure = on;
        self
    }

    /// A handle on the breaker.
    pub fn handle(&self) -> BreakerHandle {
        BreakerHandle {
            shared: self.shared.clone(),
        }
    }

    /// The stream of state changes.
    pub fn subscribe(&self) -> broadcast::Receiver<StateChange> {
        self.events.subscribe()
    }
}

impl<S, C: Clone> Layer<S> for BreakerLayer<C> {
    type Service = Breaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Breaker::new(
            inner,
            self.shared.clone(),
            self.classifier.clone(),
            self.verdict,
            self.backpressure,
        )
    }
}
