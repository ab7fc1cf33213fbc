//! `LISTEN`, shared: one listening connection per database per process,
//! whatever the number of channels and of subscribers.
//!
//! PostgreSQL signals *every* backend listening in a database on each
//! committed `NOTIFY`, whatever channel it listens on; each signalled backend
//! wakes up and reads the notification queue. With a listener per outbox
//! relay and per feed, a process hosting every target had about a dozen
//! listening backends, and each committed write woke them all. Through this
//! hub it has one, which forwards each notification to its channel's
//! subscribers in the process.
//!
//! A [`Subscription`] ends with [`Lost`] when notifications may have been
//! missed: the shared connection dropped, or the subscriber fell more than
//! [`CAPACITY`] notifications behind. Its owner subscribes again and re-reads
//! what the channel guards, as after a restart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::Pool;

/// Notifications a subscriber may fall behind by before it is told [`Lost`].
pub const CAPACITY: usize = 1024;

/// Notifications may have been missed; subscribe again and re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "notifications may have been missed (the shared LISTEN connection dropped or the subscriber fell behind)"
)]
pub struct Lost;

/// One channel's notifications, as one subscriber receives them.
pub struct Subscription {
    payloads: broadcast::Receiver<Arc<str>>,
    // Keeps the hub (and its connection) alive while anyone listens.
    _hub: Arc<Hub>,
}

impl Subscription {
    /// The next notification's payload.
    pub async fn recv(&mut self) -> Result<Arc<str>, Lost> {
        self.payloads.recv().await.map_err(|_| Lost)
    }

    /// Discards the notifications already received: one wake-up serves them
    /// all. `Lost` if some were missed.
    pub fn drain(&mut self) -> Result<(), Lost> {
        loop {
            match self.payloads.try_recv() {
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Empty) => return Ok(()),
                Err(_) => return Err(Lost),
            }
        }
    }
}

struct Listen {
    channel: String,
    done: oneshot::Sender<Result<(), String>>,
}

struct Hub {
    channels: parking_lot::Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>,
    commands: mpsc::UnboundedSender<Listen>,
    alive: AtomicBool,
}

/// Live hubs by database (server, port, database, user).
static HUBS: LazyLock<tokio::sync::Mutex<HashMap<String, Weak<Hub>>>> =
    LazyLock::new(Default::default);

impl Pool {
    /// Notifications on `channel` from now on, through the process's shared
    /// listening connection to this pool's database (opened on first use).
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, sqlx::Error> {
        let hub = Hub::of(self).await?;
        let payloads = hub
            .channels
            .lock()
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        // LISTEN is idempotent: asking every time means a subscription is
        // only returned once the server listens for it.
        let (done, listened) = oneshot::channel();
        let sent = hub.commands.send(Listen {
            channel: channel.to_owned(),
            done,
        });
        let failed = |why: String| sqlx::Error::Protocol(format!("LISTEN {channel}: {why}"));
        if sent.is_err() {
            return Err(failed("the shared listener has stopped".into()));
        }
        match listened.await {
            Ok(Ok(())) => Ok(Subscription {
                payloads,
                _hub: hub,
            }),
            Ok(Err(why)) => Err(failed(why)),
            Err(_) => Err(failed("the shared listener has stopped".into())),
        }
    }
}

impl Hub {
    /// The live hub of `pool`'s database, started if there is none.
    async fn of(pool: &Pool) -> Result<Arc<Self>, sqlx::Error> {
        let options = pool.admin().connect_options();
        let key = format!(
            "{}:{}/{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default(),
            options.get_username()
        );
        let mut hubs = HUBS.lock().await;
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade)
            && hub.alive.load(Ordering::Acquire)
        {
            return Ok(hub);
        }
        let listener = pool.listener().await?;
        let (commands, received) = mpsc::unbounded_channel();
        let hub = Arc::new(Self {
            channels: parking_lot::Mutex::new(HashMap::new()),
            commands,
            alive: AtomicBool::new(true),
        });
        hubs.retain(|_, hub| hub.strong_count() > 0);
        hubs.insert(key, Arc::downgrade(&hub));
        tokio::spawn(run(Arc::downgrade(&hub), listener, received));
        Ok(hub)
    }

    /// Ends every subscription: they may have missed notifications.
    fn lose(&self) {
        self.alive.store(false, Ordering::Release);
        // Dropping the senders ends every receiver with `Closed`.
        self.channels.lock().clear();
    }
}

/// The hub's connection: LISTENs as asked, forwards notifications by
/// channel; ends when the connection drops or every subscriber has gone.
async fn run(
    hub: Weak<Hub>,
    mut listener: PgListener,
    mut commands: mpsc::UnboundedReceiver<Listen>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(Listen { channel, done }) = command else {
                    return; // every subscription and handle dropped
                };
                let result = listener.listen(&channel).await;
                let failed = result.is_err();
                let _ = done.send(result.map_err(|e| e.to_string()));
                if failed {
                    break;
                }
            }
            received = listener.try_recv() => {
                let Ok(Some(notification)) = received else {
                    // The connection dropped (sqlx reconnects, but whatever
                    // was sent meanwhile is gone) or the pool closed.
                    break;
                };
                let Some(hub) = hub.upgrade() else { return };
                if let Some(channel) = hub.channels.lock().get(notification.channel()) {
                    // No receivers left: nobody to tell.
                    let _ = channel.send(Arc::from(notification.payload()));
                }
            }
        }
    }
    if let Some(hub) = hub.upgrade() {
        hub.lose();
    }
    // Commands already queued get their `done` dropped: "stopped".
}
