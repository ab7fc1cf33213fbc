//! A per-replica cache of hot reads kept fresh by database notifications:
//! each entry is keyed by the key its [`crate::feed::Signals`] announce
//! (e.g. a unit id), dropped when that key changes on any replica, and all
//! of it dropped when the listener reconnects (a change may have gone
//! unseen). While the listener is down the cache answers nothing: every
//! read goes to the database.
//!
//! A load that raced with a change is not kept: each key has a generation,
//! bumped by every change, and a loaded value is stored only if the
//! generation it was loaded under is still current.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::ServiceResult;
use crate::feed::Signals;

struct State<V> {
    /// Bumped by every change of the key.
    generations: HashMap<String, u64>,
    /// Bumped when every key may have changed.
    epoch: u64,
    values: HashMap<String, V>,
}

/// Hot values by key; see the module documentation.
pub struct HotCache<V> {
    signals: Arc<Signals>,
    state: Mutex<State<V>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V: Clone + Send + 'static> HotCache<V> {
    /// A cache fed by `signals`; spawns the task that applies them.
    pub fn new(signals: Arc<Signals>) -> Arc<Self> {
        let cache = Arc::new(Self {
            state: Mutex::new(State {
                generations: HashMap::new(),
                epoch: 0,
                values: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            signals: Arc::clone(&signals),
        });
        let mut changes = signals.subscribe();
        let weak = Arc::downgrade(&cache);
        tokio::spawn(async move {
            loop {
                let change = changes.recv().await;
                let Some(cache) = weak.upgrade() else { return };
                match change {
                    Ok(key) if !key.is_empty() => cache.invalidate(&key),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => cache.invalidate_all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        cache
    }

    /// Drops `key` (a change this replica committed, before its NOTIFY
    /// comes back: the writer reads its own write at once).
    pub fn invalidate(&self, key: &str) {
        let mut state = self.state.lock();
        *state.generations.entry(key.to_owned()).or_default() += 1;
        state.values.remove(key);
    }

    /// Drops everything.
    pub fn invalidate_all(&self) {
        let mut state = self.state.lock();
        state.epoch += 1;
        state.values.clear();
    }

    /// The value of `key` if `fresh` accepts it, else what `load` reads
    /// (kept when no change raced with it).
    pub async fn get_or_load<F, Fut>(
        &self,
        key: &str,
        fresh: impl Fn(&V) -> bool,
        load: F,
    ) -> ServiceResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ServiceResult<V>>,
    {
        let live = self.signals.is_live();
        let stamp = {
            let state = self.state.lock();
            if live
                && let Some(value) = state.values.get(key)
                && fresh(value)
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value.clone());
            }
            (
                state.epoch,
                state.generations.get(key).copied().unwrap_or(0),
            )
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        let value = load().await?;
        let mut state = self.state.lock();
        let now = (
            state.epoch,
            state.generations.get(key).copied().unwrap_or(0),
        );
        if live && self.signals.is_live() && now == stamp {
            state.values.insert(key.to_owned(), value.clone());
        }
        Ok(value)
    }

    /// Reads answered from memory and from the database so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn live_signals() -> Arc<Signals> {
        let signals = Signals::new();
        signals.set_live_for_tests();
        signals
    }

    async fn read(cache: &HotCache<usize>, loads: &AtomicUsize) -> usize {
        cache
            .get_or_load(
                "unit",
                |_| true,
                || async { Ok(loads.fetch_add(1, Ordering::SeqCst) + 1) },
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_value_is_loaded_once_until_its_key_changes() {
        let signals = live_signals();
        let cache = HotCache::new(Arc::clone(&signals));
        let loads = AtomicUsize::new(0);
        assert_eq!(read(&cache, &loads).await, 1);
        assert_eq!(read(&cache, &loads).await, 1);
        assert_eq!(cache.hits_and_misses(), (1, 1));

        signals.changed("another unit");
        tokio::task::yield_now().await;
        assert_eq!(read(&cache, &loads).await, 1);
        signals.changed("unit");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert_eq!(read(&cache, &loads).await, 2);
        cache.invalidate_all();
        assert_eq!(read(&cache, &loads).await, 3);
    }

    #[tokio::test]
    async fn a_load_raced_by_a_change_is_not_kept() {
        let cache = HotCache::new(live_signals());
        let value = cache
            .get_or_load(
                "unit",
                |_| true,
                || async {
                    // The change commits while this load reads.
                    cache.invalidate("unit");
                    Ok(1)
                },
            )
            .await
            .unwrap();
        assert_eq!(value, 1);
        let loads = AtomicUsize::new(1);
        assert_eq!(read(&cache, &loads).await, 2, "the raced value was dropped");
    }

    #[tokio::test]
    async fn without_a_live_listener_every_read_loads() {
        let cache = HotCache::new(Signals::new());
        let loads = AtomicUsize::new(0);
        assert_eq!(read(&cache, &loads).await, 1);
        assert_eq!(read(&cache, &loads).await, 2);
    }
}
