//! Resumable live feeds: a server stream that sends what is new after a
//! cursor, woken by PostgreSQL `NOTIFY` from any replica, with heartbeats
//! that carry the cursor so a client that reconnects resumes exactly where
//! it stopped (nothing lost, nothing repeated).
//!
//! The store owns the order: every item of a feed has a position that
//! commits in increasing order per key (e.g. allocated under a row lock of
//! the key), and the feed re-reads "after my cursor" on every signal, so a
//! signal seen twice, or one lost while the listener reconnected (a slow
//! fallback poll covers it), changes nothing.
//!
//! A service keeps one [`Signals`] per process, starts its listener in
//! `start_background`, and answers each watch with [`follow`]:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use malha_kit::feed::{Feed, Signals, follow};
//! # async fn demo(signals: Arc<Signals>, pool: malha_kit::db::Pool, stop: tokio::sync::watch::Receiver<bool>) {
//! signals.spawn_listener(pool, "malha_queue_panel", stop);
//! let feed = Feed::new(Arc::clone(&signals), "some-unit-id".to_owned(), 0);
//! let stream = follow(feed, vec![], |after: i64| async move {
//!     Ok::<_, malha_kit::ServiceError>(vec![(after + 1, format!("item {}", after + 1))])
//! }, |cursor: i64| format!("heartbeat at {cursor}"));
//! # drop(stream);
//! # }
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::ServiceResult;
use crate::db::Pool;

/// A boxed server stream, as a tonic handler's associated stream type.
pub type FeedStream<M> = Pin<Box<dyn tokio_stream::Stream<Item = Result<M, Status>> + Send>>;

/// How often an idle feed sends a heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often a feed re-reads without a signal (a notification lost while
/// the listener reconnected).
pub const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// The most items one read returns; a longer gap is read in several.
pub const BATCH: i64 = 100;

/// The per-process relay of one `NOTIFY` channel: keys that changed.
pub struct Signals {
    changed: broadcast::Sender<String>,
    shutdown: watch::Sender<bool>,
    /// Whether the listener is connected: while it is not, a change could
    /// go unseen, so caches fed by these signals must not answer.
    live: std::sync::atomic::AtomicBool,
}

impl Default for Signals {
    fn default() -> Self {
        Self {
            changed: broadcast::channel(1024).0,
            shutdown: watch::channel(false).0,
            live: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Signals {
    /// Signals with no listener yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Announces that `key` changed (what a `NOTIFY` payload does).
    pub fn changed(&self, key: &str) {
        // No receivers: nobody watches.
        let _ = self.changed.send(key.to_owned());
    }

    /// Whether every change is being seen now (the listener is connected).
    pub fn is_live(&self) -> bool {
        self.live.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the listener connected without a database (unit tests of
    /// what reads the signals).
    #[cfg(test)]
    pub(crate) fn set_live_for_tests(&self) {
        self.live.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Changed keys from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changed.subscribe()
    }

    /// Turns true when the server shuts down (feeds end so it can drain).
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Relays `NOTIFY channel, '<key>'` from every replica until `stop`
    /// turns true, reconnecting with backoff; then ends the feeds.
    pub fn spawn_listener(
        self: &Arc<Self>,
        pool: Pool,
        channel: &'static str,
        mut stop: watch::Receiver<bool>,
    ) {
        let signals = Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                tokio::select! {
                    result = signals.listen(&pool, channel) => {
                        signals.live.store(false, std::sync::atomic::Ordering::Release);
                        if let Err(error) = result {
                            tracing::warn!(error = %error, channel, "feed listener interrupted; reconnecting");
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
            signals
                .live
                .store(false, std::sync::atomic::Ordering::Release);
            let _ = signals.shutdown.send(true);
        });
    }

    async fn listen(&self, pool: &Pool, channel: &str) -> anyhow::Result<()> {
        let mut notifications = pool.subscribe(channel).await?;
        self.live.store(true, std::sync::atomic::Ordering::Release);
        // Whatever committed while not listening is read now.
        self.changed("");
        loop {
            let key = notifications.recv().await?;
            self.changed(&key);
        }
    }
}

/// One watcher's place in a feed: which key it follows and the position of
/// the last item it was sent.
pub struct Feed {
    signals: Arc<Signals>,
    key: String,
    cursor: i64,
    heartbeat: Duration,
    poll: Duration,
}

impl Feed {
    /// Follows `key` after `cursor` with the default heartbeat and poll.
    pub fn new(signals: Arc<Signals>, key: String, cursor: i64) -> Self {
        Self {
            signals,
            key,
            cursor,
            heartbeat: HEARTBEAT,
            poll: FALLBACK_POLL,
        }
    }

    /// With another heartbeat interval.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Whether a signal for `changed` concerns this feed (the empty key:
    /// every feed, e.g. after the listener reconnected).
    fn concerns(&self, changed: &str) -> bool {
        changed.is_empty() || changed == self.key
    }
}

/// The stream of a watch: `first` (a snapshot, or nothing on a resume),
/// then every item `read_after(cursor)` returns, in position order, each
/// once, and `heartbeat(cursor)` whenever the feed was idle for the
/// heartbeat interval. Ends when the client goes away; with UNAVAILABLE
/// when the server shuts down (the client watches again with its cursor).
///
/// `read_after(cursor)` returns at most [`BATCH`] `(position, message)`
/// pairs with positions above `cursor`, in increasing order.
pub fn follow<M, R, Fut, H>(feed: Feed, first: Vec<M>, read_after: R, heartbeat: H) -> FeedStream<M>
where
    M: Send + 'static,
    R: Fn(i64) -> Fut + Send + 'static,
    Fut: Future<Output = ServiceResult<Vec<(i64, M)>>> + Send + 'static,
    H: Fn(i64) -> M + Send + 'static,
{
    let (tx, rx) = mpsc::channel(32);
    // Subscribed before the first read, so no signal falls between them.
    let signals = feed.signals.subscribe();
    tokio::spawn(run(feed, signals, first, read_after, heartbeat, tx));
    Box::pin(ReceiverStream::new(rx))
}

async fn run<M, R, Fut, H>(
    mut feed: Feed,
    mut signals: broadcast::Receiver<String>,
    first: Vec<M>,
    read_after: R,
    heartbeat: H,
    tx: mpsc::Sender<Result<M, Status>>,
) where
    M: Send + 'static,
    R: Fn(i64) -> Fut + Send + 'static,
    Fut: Future<Output = ServiceResult<Vec<(i64, M)>>> + Send + 'static,
    H: Fn(i64) -> M + Send + 'static,
{
    let mut shutdown = feed.signals.shutdown();
    for message in first {
        if tx.send(Ok(message)).await.is_err() {
            return;
        }
    }
    let mut beat =
        tokio::time::interval_at(tokio::time::Instant::now() + feed.heartbeat, feed.heartbeat);
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + feed.poll, feed.poll);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Everything after the cursor, in batches.
        loop {
            let items = match read_after(feed.cursor).await {
                Ok(items) => items,
                Err(error) => {
                    let _ = tx.send(Err(error.into())).await;
                    return;
                }
            };
            let full = i64::try_from(items.len()).unwrap_or(i64::MAX) >= BATCH;
            let sent_any = !items.is_empty();
            for (position, message) in items {
                if position <= feed.cursor {
                    continue;
                }
                feed.cursor = position;
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            if sent_any {
                beat.reset();
            }
            if !full {
                break;
            }
        }
        loop {
            tokio::select! {
                signal = signals.recv() => match signal {
                    Ok(key) if !feed.concerns(&key) => continue,
                    // Lagged: some signals were dropped; reading covers them.
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = poll.tick() => break,
                _ = beat.tick() => {
                    if tx.send(Ok(heartbeat(feed.cursor))).await.is_err() {
                        return;
                    }
                }
                _ = shutdown.changed() => {
                    let _ = tx.send(Err(Status::unavailable("the server is shutting down; watch again with your cursor"))).await;
                    return;
                }
                () = tx.closed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio_stream::StreamExt;

    use super::*;

    /// A store of positioned items shared by the test and its feed.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<i64>>>);

    impl Log {
        fn push(&self, position: i64) {
            self.0.lock().unwrap().push(position);
        }
        fn after(&self, cursor: i64) -> Vec<(i64, String)> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .filter(|p| **p > cursor)
                .take(usize::try_from(BATCH).unwrap())
                .map(|p| (*p, format!("item {p}")))
                .collect()
        }
    }

    fn open(signals: &Arc<Signals>, log: &Log, cursor: i64) -> FeedStream<String> {
        let log = log.clone();
        let feed = Feed::new(Arc::clone(signals), "unit".into(), cursor)
            .heartbeat(Duration::from_secs(30));
        follow(
            feed,
            vec!["snapshot".into()],
            move |after| {
                let log = log.clone();
                async move { Ok(log.after(after)) }
            },
            |cursor| format!("heartbeat {cursor}"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn sends_each_item_once_in_order_and_heartbeats_when_idle() {
        let signals = Signals::new();
        let log = Log::default();
        log.push(1);
        let mut stream = open(&signals, &log, 0);
        assert_eq!(stream.next().await.unwrap().unwrap(), "snapshot");
        assert_eq!(stream.next().await.unwrap().unwrap(), "item 1");

        log.push(2);
        log.push(3);
        signals.changed("unit");
        // A second signal for the same items sends nothing twice.
        signals.changed("unit");
        signals.changed("another unit");
        assert_eq!(stream.next().await.unwrap().unwrap(), "item 2");
        assert_eq!(stream.next().await.unwrap().unwrap(), "item 3");
        // Idle: the heartbeat carries the cursor.
        assert_eq!(stream.next().await.unwrap().unwrap(), "heartbeat 3");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_gap_is_read_in_batches_and_a_lost_signal_is_covered_by_the_poll() {
        let signals = Signals::new();
        let log = Log::default();
        for position in 1..=250 {
            log.push(position);
        }
        let stream = open(&signals, &log, 10);
        let items: Vec<String> = stream.skip(1).take(240).map(Result::unwrap).collect().await;
        assert_eq!(items.first().unwrap(), "item 11");
        assert_eq!(items.last().unwrap(), "item 250");

        let mut stream = open(&signals, &log, 250);
        assert_eq!(stream.next().await.unwrap().unwrap(), "snapshot");
        log.push(251);
        // No signal: the fallback poll finds it before the heartbeat.
        assert_eq!(stream.next().await.unwrap().unwrap(), "item 251");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_feed_with_unavailable() {
        let signals = Signals::new();
        let mut stream = open(&signals, &Log::default(), 0);
        assert_eq!(stream.next().await.unwrap().unwrap(), "snapshot");
        let _ = signals.shutdown.send(true);
        let status = stream.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }
}
