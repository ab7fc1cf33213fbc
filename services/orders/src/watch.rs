//! Who is told when an order's status changes, for `WatchOrder`.
//!
//! Two paths feed one per-process broadcast of changed order ids:
//! - the handler that committed a change announces it at once ([`Hub::changed`]);
//! - every change also runs `pg_notify('malha_orders_status', <order id>)` in
//!   its transaction (delivered only on commit), and a LISTEN task in every
//!   replica relays those, so a watcher connected to replica A sees changes
//!   committed by replica B or by the event consumer.
//!
//! A watcher re-reads the order's history after each signal and sends the
//! changes it has not sent yet (by sequence), so duplicates are harmless; it
//! also re-reads every few seconds in case a notification was lost while the
//! LISTEN connection was being re-established.

use std::time::Duration;

use malha_kit::db::Pool;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// The PostgreSQL channel of status changes.
pub const CHANNEL: &str = "malha_orders_status";
/// How often a watcher re-reads without a signal.
pub const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// The per-process broadcast of changed orders.
pub struct Hub {
    changes: broadcast::Sender<Uuid>,
    shutdown: watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with no listeners yet.
    pub fn new() -> Self {
        Self {
            changes: broadcast::channel(1024).0,
            shutdown: watch::channel(false).0,
        }
    }

    /// Announces that `order` changed (after the change committed).
    pub fn changed(&self, order: Uuid) {
        // No receivers means nobody watches: nothing to do.
        let _ = self.changes.send(order);
    }

    /// Changed order ids from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.changes.subscribe()
    }

    /// Turns true when the server shuts down: streams end so it can drain.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Relays `pg_notify` from every replica into the broadcast until `stop`
    /// turns true, reconnecting after errors; then ends the watch streams.
    pub fn spawn_listener(
        self: &std::sync::Arc<Self>,
        pool: Pool,
        mut stop: watch::Receiver<bool>,
    ) {
        let hub = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                tokio::select! {
                    result = hub.listen(&pool) => {
                        if let Err(error) = result {
                            tracing::warn!(error = %error, "order status listener interrupted; reconnecting");
                        }
                    }
                    _ = stop.changed() => break,
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            let _ = hub.shutdown.send(true);
        });
    }

    async fn listen(&self, pool: &Pool) -> anyhow::Result<()> {
        let mut notifications = pool.subscribe(CHANNEL).await?;
        loop {
            let payload = notifications.recv().await?;
            if let Ok(order) = Uuid::parse_str(&payload) {
                self.changed(order);
            }
        }
    }
}
