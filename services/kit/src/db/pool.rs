//! The kit's connection pool: `PgConnection`s handed out LIFO and put back
//! without a round trip (ADR 0008).
//!
//! sqlx's own pool pings every connection when it is returned (a Sync and a
//! wait for ReadyForQuery, from a spawned task): one extra PostgreSQL round
//! trip per query. A `PgConnection` already drains whatever an interrupted
//! query left behind before its next use, so this pool only checks a
//! connection that is *suspect* — its last user was cancelled mid-query or
//! rolled back — or that sat idle long enough for the server or a proxy to
//! have dropped it. Connections that returned a transport error are closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgListener, PgPoolOptions, PgSeverity};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::Semaphore;

/// How long a suspect or long-idle connection may take to answer its check
/// before it is closed and replaced (a query cut off by its caller may still
/// be running; waiting for it would stall the next caller).
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// How a pool is sized and aged.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Connections open at most (in use + idle).
    pub max_connections: u32,
    /// How long `acquire` waits for a free connection before `PoolTimedOut`.
    pub acquire_timeout: Duration,
    /// A connection idle longer than this is pinged before it is handed out.
    pub check_after_idle: Duration,
    /// A connection idle longer than this is closed instead of reused.
    pub idle_timeout: Duration,
    /// A connection older than this is closed when it comes back.
    pub max_lifetime: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            check_after_idle: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
        }
    }
}

/// A lazily connected pool of PostgreSQL connections. Cheap to clone.
#[derive(Clone)]
pub struct Pool(Arc<Shared>);

struct Shared {
    connect: PgConnectOptions,
    options: PoolOptions,
    /// Idle connections, most recently used at the back.
    idle: Mutex<VecDeque<Idle>>,
    /// One permit per connection that may be open.
    permits: Semaphore,
    closed: AtomicBool,
    /// `acquire` calls that gave up waiting for a connection.
    timeouts: AtomicU64,
    /// sqlx's own pool, for the rare and long-lived uses that need its type:
    /// migrations and `PgListener` (which holds one connection for as long as
    /// it listens and reconnects through the pool).
    admin: sqlx::PgPool,
}

struct Idle {
    conn: PgConnection,
    born: Instant,
    since: Instant,
    suspect: bool,
}

/// A connection taken from the pool; goes back when dropped.
pub struct Conn {
    conn: Option<PgConnection>,
    born: Instant,
    /// The connection must be checked before its next user gets it.
    pub(crate) suspect: bool,
    pool: Pool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("idle", &self.idle_count())
            .field("max_connections", &self.0.options.max_connections)
            .finish()
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("suspect", &self.suspect)
            .finish()
    }
}

impl Pool {
    /// A pool that opens connections only when they are first needed.
    pub fn connect_lazy(connect: PgConnectOptions, options: PoolOptions) -> Self {
        Self::connect_lazy_via(connect.clone(), connect, options)
    }

    /// As [`Pool::connect_lazy`], with listeners and migrations (sqlx's pool)
    /// connecting to `direct` instead.
    pub fn connect_lazy_via(
        connect: PgConnectOptions,
        direct: PgConnectOptions,
        options: PoolOptions,
    ) -> Self {
        let admin = PgPoolOptions::new()
            .max_connections(3)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(Duration::from_secs(60))
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(direct);
        Self(Arc::new(Shared {
            permits: Semaphore::new(options.max_connections as usize),
            connect,
            options,
            idle: Mutex::new(VecDeque::new()),
            closed: AtomicBool::new(false),
            timeouts: AtomicU64::new(0),
            admin,
        }))
    }

    /// A connection: the most recently used idle one, or a new one.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let shared = &self.0;
        if shared.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let deadline = Instant::now() + shared.options.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline.into(), shared.permits.acquire())
            .await
            .map_err(|_| {
                shared.timeouts.fetch_add(1, Ordering::Relaxed);
                sqlx::Error::PoolTimedOut
            })?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        // The permit travels with the connection and is given back in `Drop`.
        permit.forget();
        let mut conn = Conn {
            conn: None,
            born: Instant::now(),
            suspect: false,
            pool: self.clone(),
        };
        while let Some(idle) = self.take_idle() {
            if idle.suspect || idle.since.elapsed() >= shared.options.check_after_idle {
                let mut checked = idle.conn;
                let until = deadline.min(Instant::now() + CHECK_TIMEOUT);
                match tokio::time::timeout_at(until.into(), checked.ping()).await {
                    Ok(Ok(())) => {}
                    _ => continue, // dropped: the socket closes with it
                }
                conn.conn = Some(checked);
            } else {
                conn.conn = Some(idle.conn);
            }
            conn.born = idle.born;
            return Ok(conn);
        }
        let connected = tokio::time::timeout_at(deadline.into(), shared.connect.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        conn.conn = Some(connected);
        Ok(conn)
    }

    /// Begins a transaction on a pooled connection.
    pub async fn begin(&self) -> Result<super::Tx, sqlx::Error> {
        super::Tx::begin(self.acquire().await?).await
    }

    /// A listener for `LISTEN`/`NOTIFY` on its own connection (the shared
    /// one, [`Pool::subscribe`], is what services use).
    pub(crate) async fn listener(&self) -> Result<PgListener, sqlx::Error> {
        PgListener::connect_with(&self.0.admin).await
    }

    /// sqlx's pool on the same database (migrations).
    pub(crate) fn admin(&self) -> &sqlx::PgPool {
        &self.0.admin
    }

    /// Refuses new acquisitions and closes the idle connections.
    pub async fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.permits.close();
        let idle: Vec<Idle> = self.0.idle.lock().drain(..).collect();
        for idle in idle {
            let _ = idle.conn.close().await;
        }
        self.0.admin.close().await;
    }

    /// Connections open and not in use.
    pub fn idle_count(&self) -> usize {
        self.0.idle.lock().len()
    }

    /// Connections handed out and not yet back.
    pub fn in_use_count(&self) -> usize {
        let shared = &self.0;
        (shared.options.max_connections as usize).saturating_sub(shared.permits.available_permits())
    }

    /// The most connections this pool opens.
    pub fn max_connections(&self) -> u32 {
        self.0.options.max_connections
    }

    /// `acquire` calls that timed out waiting for a connection, so far.
    pub fn timeouts(&self) -> u64 {
        self.0.timeouts.load(Ordering::Relaxed)
    }

    /// The most recently used idle connection still young enough to reuse;
    /// the oldest idle one goes if it has outstayed `idle_timeout`.
    fn take_idle(&self) -> Option<Idle> {
        let options = &self.0.options;
        let mut idle = self.0.idle.lock();
        if idle
            .front()
            .is_some_and(|oldest| oldest.since.elapsed() >= options.idle_timeout)
            && let Some(stale) = idle.pop_front()
        {
            retire(stale.conn);
        }
        idle.pop_back()
    }

    fn give_back(&self, conn: PgConnection, born: Instant, suspect: bool) {
        let shared = &self.0;
        // A transaction dropped without commit left its ROLLBACK queued on
        // the connection: send it now, off the caller's path, rather than at
        // the connection's next use. Until then the session sat idle in
        // transaction, holding its snapshot (vacuum waits for it) and, behind
        // a transaction-mode PgBouncer, a server connection.
        if suspect
            && !shared.closed.load(Ordering::Acquire)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let pool = self.clone();
            runtime.spawn(async move {
                let mut conn = conn;
                if let Ok(Ok(())) = tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await {
                    pool.give_back(conn, born, false);
                } else {
                    // Dropped: the socket closes with it.
                    pool.0.permits.add_permits(1);
                }
            });
            return;
        }
        if !shared.closed.load(Ordering::Acquire) && born.elapsed() < shared.options.max_lifetime {
            shared.idle.lock().push_back(Idle {
                conn,
                born,
                since: Instant::now(),
                suspect,
            });
        }
        shared.permits.add_permits(1);
    }
}

impl Conn {
    /// Closes this connection instead of returning it (after a transport or
    /// protocol error).
    pub(crate) fn discard(&mut self) {
        self.conn = None;
    }

    pub(crate) fn conn_mut(&mut self) -> Option<&mut PgConnection> {
        self.conn.as_mut()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(conn) => self.pool.give_back(conn, self.born, self.suspect),
            None => self.pool.0.permits.add_permits(1),
        }
    }
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_ref()
            .expect("a pooled connection is present until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

/// Closes a healthy connection politely (Terminate, so the server logs no
/// lost client), off the caller's path.
fn retire(conn: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = conn.close().await;
        });
    }
}

/// True when an error says the connection itself can no longer be trusted:
/// a transport or protocol failure, or a FATAL/PANIC from the server (it
/// closes the session after one: terminated backend, shutdown, idle-session
/// timeouts) — as opposed to a statement the server refused.
pub(crate) fn breaks_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => error
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|error| matches!(error.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::InvalidSavePointStatement
        | sqlx::Error::BeginFailed => true,
        _ => false,
    }
}
