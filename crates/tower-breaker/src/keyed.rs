//! Per-key breakers: one breaker per upstream host (or per key of your choice).
//!
//! Why: a client or gateway that calls many hosts must not let one failing host
//! open the breaker for all. [`KeyedBreakerLayer`] keeps one breaker per key (the
//! request's authority by default), up to a bound; when the bound is reached, a new
//! key evicts the breaker idle the longest among the closed ones.
//!
//! Looking a key up takes a read lock on the registry (uncontended, it is an
//! atomic operation) and reads the clock once, to note when the key was last used.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::broadcast;
use tower_error_class::{BoxError, Class, Classifier, Error, HttpClassifier};
use tower_layer::Layer;
use tower_service::Service;

use crate::circuit::State;
use crate::config::BreakerConfig;
use crate::service::{ResponseFuture, VerdictFn, admit};
use crate::shared::{BreakerHandle, OnStateChange, Shared, StateChange};
use crate::sync::Ordering;

/// How a request's key is found: its authority, or a function of the request.
pub type KeyFn<B> = Arc<dyn Fn(&http::Request<B>) -> Option<String> + Send + Sync>;

struct Registry {
    /// The clock of `last_used`, shared by every key so they compare.
    epoch: tokio::time::Instant,
    config: BreakerConfig,
    max_keys: usize,
    idle: Duration,
    breakers: RwLock<HashMap<Box<str>, Arc<Shared>>>,
    events: broadcast::Sender<StateChange>,
    callback: Option<OnStateChange>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn get(&self, key: &str) -> Arc<Shared> {
        let found = self
            .breakers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned();
        let shared = match found {
            Some(shared) => shared,
            None => self.insert(key),
        };
        shared.last_used.store(self.now_ms(), Ordering::Relaxed);
        shared
    }

    fn insert(&self, key: &str) -> Arc<Shared> {
        let mut breakers = self.breakers.write().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = breakers.get(key) {
            return shared.clone();
        }
        if breakers.len() >= self.max_keys {
            self.evict(&mut breakers);
        }
        let shared = Shared::new(
            self.config,
            Some(key.into()),
            self.events.clone(),
            self.callback.clone(),
        );
        breakers.insert(key.into(), shared.clone());
        shared
    }

    /// Drops breakers idle for longer than `idle`; if none is, the closed one idle
    /// the longest (an open breaker remembers a failing host: it goes last).
    fn evict(&self, breakers: &mut HashMap<Box<str>, Arc<Shared>>) {
        let idle_ms = u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX);
        let now = self.now_ms();
        breakers.retain(|_, shared| {
            now.saturating_sub(shared.last_used.load(Ordering::Relaxed)) < idle_ms
        });
        if breakers.len() < self.max_keys {
            return;
        }
        let victim = breakers
            .iter()
            .min_by_key(|(_, shared)| {
                (
                    shared.circuit.state() != State::Closed,
                    shared.last_used.load(Ordering::Relaxed),
                )
            })
            .map(|(key, _)| key.clone());
        if let Some(victim) = victim {
            breakers.remove(&victim);
        }
    }
}

/// Keeps one breaker per key: see the [module docs](self).
///
/// ```
/// use tower::ServiceBuilder;
/// use tower_breaker::{BreakerConfig, KeyedBreakerLayer};
///
/// # let client = tower::service_fn(|_req: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(()))
/// # });
/// let breakers: KeyedBreakerLayer<()> =
///     KeyedBreakerLayer::per_authority(BreakerConfig::new()).max_keys(100);
/// let mut events = breakers.subscribe();
/// let svc = ServiceBuilder::new().layer(breakers.clone()).service(client);
/// assert!(breakers.handle("api.example.com").is_none()); // none used yet
/// ```
pub struct KeyedBreakerLayer<B = (), C = HttpClassifier> {
    registry: Arc<Registry>,
    key: Option<KeyFn<B>>,
    classifier: C,
    verdict: VerdictFn,
}

impl<B, C: Clone> Clone for KeyedBreakerLayer<B, C> {
    fn clone(&self) -> Self {
        KeyedBreakerLayer {
            registry: self.registry.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            verdict: self.verdict,
        }
    }
}

impl<B, C> std::fmt::Debug for KeyedBreakerLayer<B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBreakerLayer")
            .field("config", &self.registry.config)
            .field("max_keys", &self.registry.max_keys)
            .finish()
    }
}

impl<B> KeyedBreakerLayer<B> {
    /// One breaker per request authority (`host:port`), up to 1 024 of them,
    /// evicting breakers idle for 10 minutes first.
    pub fn per_authority(config: BreakerConfig) -> KeyedBreakerLayer<B> {
        let (events, _) = broadcast::channel(256);
        KeyedBreakerLayer {
            registry: Arc::new(Registry {
                epoch: tokio::time::Instant::now(),
                config,
                max_keys: 1024,
                idle: Duration::from_secs(600),
                breakers: RwLock::new(HashMap::new()),
                events,
                callback: None,
            }),
            key: None,
            classifier: HttpClassifier::new(),
            verdict: Class::breaker,
        }
    }

    /// One breaker per key that `key` finds in a request (requests without one go
    /// through unguarded).
    pub fn per_key(
        config: BreakerConfig,
        key: impl Fn(&http::Request<B>) -> Option<String> + Send + Sync + 'static,
    ) -> KeyedBreakerLayer<B> {
        let mut layer = KeyedBreakerLayer::per_authority(config);
        layer.key = Some(Arc::new(key));
        layer
    }
}

impl<B, C> KeyedBreakerLayer<B, C> {
    fn registry_mut(&mut self) -> &mut Registry {
        Arc::get_mut(&mut self.registry)
            .expect("configure the layer before cloning it or making services")
    }

    /// Keeps at most `max` breakers (at least 1).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.registry_mut().max_keys = max.max(1);
        self
    }

    /// Evicts breakers unused for `idle` first when the bound is reached.
    pub fn evict_idle_after(mut self, idle: Duration) -> Self {
        self.registry_mut().idle = idle;
        self
    }

    /// Calls `callback` on every state change of every breaker.
    pub fn on_state_change(
        mut self,
        callback: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.registry_mut().callback = Some(Arc::new(callback));
        self
    }

    /// What the breakers make of each class; [`Class::breaker`] by default.
    pub fn verdict(mut self, verdict: VerdictFn) -> Self {
        self.verdict = verdict;
        self
    }

    /// The classifier that names each outcome.
    pub fn classifier<C2>(self, classifier: C2) -> KeyedBreakerLayer<B, C2> {
        KeyedBreakerLayer {
            registry: self.registry,
            key: self.key,
            classifier,
            verdict: self.verdict,
        }
    }

    /// The breaker of `key`, if it has been used.
    pub fn handle(&self, key: &str) -> Option<BreakerHandle> {
        let breakers = self
            .registry
            .breakers
            .read()
            .unwrap_or_else(|p| p.into_inner());
        breakers.get(key).map(|shared| BreakerHandle {
            shared: shared.clone(),
        })
    }

    /// Every breaker kept now.
    pub fn handles(&self) -> Vec<BreakerHandle> {
        let breakers = self
            .registry
            .breakers
            .read()
            .unwrap_or_else(|p| p.into_inner());
        breakers
            .values()
            .map(|shared| BreakerHandle {
                shared: shared.clone(),
            })
            .collect()
    }

    /// The stream of state changes of every breaker, with their keys.
    pub fn subscribe(&self) -> broadcast::Receiver<StateChange> {
        self.registry.events.subscribe()
    }
}

impl<S, B, C: Clone> Layer<S> for KeyedBreakerLayer<B, C> {
    type Service = KeyedBreaker<S, B, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedBreaker {
            inner,
            registry: self.registry.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            verdict: self.verdict,
        }
    }
}

/// One breaker per key in front of `inner`: see [`KeyedBreakerLayer`].
pub struct KeyedBreaker<S, B, C> {
    inner: S,
    registry: Arc<Registry>,
    key: Option<KeyFn<B>>,
    classifier: C,
    verdict: VerdictFn,
}

impl<S: Clone, B, C: Clone> Clone for KeyedBreaker<S, B, C> {
    fn clone(&self) -> Self {
        KeyedBreaker {
            inner: self.inner.clone(),
            registry: self.registry.clone(),
            key: self.key.clone(),
            classifier: self.classifier.clone(),
            verdict: self.verdict,
        }
    }
}

impl<S: std::fmt::Debug, B, C> std::fmt::Debug for KeyedBreaker<S, B, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedBreaker")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, B, C> Service<http::Request<B>> for KeyedBreaker<S, B, C>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    C: Classifier<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = Error;
    type Future = KeyedFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::wrap)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let shared = match &self.key {
            Some(key) => key(&request).map(|key| self.registry.get(&key)),
            None => request
                .uri()
                .authority()
                .map(|authority| self.registry.get(authority.as_str())),
        };
        let inner = &mut self.inner;
        match shared {
            Some(shared) => admit(&shared, &self.classifier, self.verdict, || {
                inner.call(request)
            }),
            None => ResponseFuture::unguarded(inner.call(request), self.classifier.clone()),
        }
    }
}

/// The response future of [`KeyedBreaker`].
pub type KeyedFuture<F, C> = ResponseFuture<F, C>;
