//! One breaker as the services, handles and events see it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::circuit::{Circuit, Hook, State, Transition};
use crate::config::BreakerConfig;
use crate::sync::AtomicU64;
use crate::window::Counts;

/// A change of a breaker's state, as the event stream and the callback see it.
#[derive(Clone, Debug, PartialEq)]
pub struct StateChange {
    /// The breaker's key (per-key breakers) or name, if it has one.
    pub key: Option<Arc<str>>,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why.
    pub reason: crate::circuit::Reason,
}

/// A callback for state changes.
pub type OnStateChange = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// One breaker: its state machine, its clock, its name and where its events go.
pub(crate) struct Shared {
    pub(crate) circuit: Circuit,
    pub(crate) epoch: Instant,
    pub(crate) key: Option<Arc<str>>,
    /// When it was last used, in ms since `epoch` (kept by per-key breakers only).
    pub(crate) last_used: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        config: BreakerConfig,
        key: Option<Arc<str>>,
        events: broadcast::Sender<StateChange>,
        callback: Option<OnStateChange>,
    ) -> Arc<Shared> {
        let hook_key = key.clone();
        let hook: Hook = Box::new(move |transition: &Transition| {
            let change = StateChange {
                key: hook_key.clone(),
                from: transition.from,
                to: transition.to,
                reason: transition.reason,
            };
            let name = change.key.as_deref().unwrap_or("");
            if change.to == State::Open {
                tracing::warn!(
                    breaker = name,
                    from = change.from.as_str(),
                    reason = ?change.reason,
                    "circuit breaker opened"
                );
            } else {
                tracing::info!(
                    breaker = name,
                    from = change.from.as_str(),
                    to = change.to.as_str(),
                    reason = ?change.reason,
                    "circuit breaker changed state"
                );
            }
            #[cfg(feature = "metrics")]
            {
                let key = name.to_owned();
                metrics::counter!(
                    "breaker_transitions_total",
                    "breaker" => key.clone(),
                    "from" => change.from.as_str(),
                    "to" => change.to.as_str()
                )
                .increment(1);
                metrics::gauge!("breaker_state", "breaker" => key).set(change.to.as_gauge());
            }
            if let Some(callback) = &callback {
                callback(&change);
            }
            // No receiver is not an error: nobody is listening.
            let _ = events.send(change);
        });
        Arc::new(Shared {
            circuit: Circuit::new(config, Some(hook)),
            epoch: Instant::now(),
            key,
            last_used: AtomicU64::new(0),
        })
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A handle on one breaker: read its state and counts, force its state. Cheap to
/// clone.
#[derive(Clone)]
pub struct BreakerHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for BreakerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerHandle")
            .field("key", &self.shared.key)
            .field("state", &self.state())
            .finish()
    }
}

impl BreakerHandle {
    /// The breaker's key or name, if it has one.
    pub fn key(&self) -> Option<&str> {
        self.shared.key.as_deref()
    }

    /// The state now.
    pub fn state(&self) -> State {
        self.shared.circuit.state()
    }

    /// What the trip rule's window holds now.
    pub fn counts(&self) -> Counts {
        self.shared.circuit.counts(self.shared.now_ms())
    }

    /// How long until an open breaker lets a probe through; `None` if it is not
    /// open.
    pub fn open_remaining(&self) -> Option<Duration> {
        self.shared.circuit.open_remaining(self.shared.now_ms())
    }

    /// Forces the breaker open until [`auto`](Self::auto) or
    /// [`force_closed`](Self::force_closed).
    pub fn force_open(&self) {
        self.shared.circuit.force(State::ForcedOpen);
    }

    /// Closes the breaker and clears its window; it trips again by its rules.
    pub fn force_closed(&self) {
        self.shared.circuit.force(State::Closed);
    }

    /// Back to automatic operation: closed, window cleared.
    pub fn auto(&self) {
        self.force_closed();
    }

    /// Lets every call through and records nothing.
    pub fn disable(&self) {
        self.shared.circuit.force(State::Disabled);
    }

    /// Records every call but never trips.
    pub fn metrics_only(&self) {
        self.shared.circuit.force(State::MetricsOnly);
    }
}
