//! Test support for Malha: one private PostgreSQL server per test binary
//! (from `malha-local`, which `malha up` uses with a persistent data
//! directory), a fresh database per test, and the private NATS server
//! re-exported. Nothing is assumed running and no Docker is needed.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let db = malha_testkit::fresh_database().await?;
//! let pool = sqlx::PgPool::connect(&db.url).await?;
//! # Ok(()) }
//! ```

pub use malha_local::{
    NATS_INSTALL_HINT, NatsServer, PgBinaries, PgCluster, find_nats_server, free_port,
};

use anyhow::anyhow;
use tokio::sync::OnceCell;

/// The per-process cluster. It holds only OS-level things (a server process, a
/// temp dir, a watchdog), never runtime-bound objects such as a pool, because each
/// `#[tokio::test]` runs on its own runtime. A failed start is cached so that every
/// test reports the same error instead of retrying a slow start.
static SHARED: OnceCell<Result<PgCluster, String>> = OnceCell::const_new();

/// Returns the test binary's private PostgreSQL cluster, starting it on first use.
///
/// The cluster is ephemeral (temp dir, free port, durability off) and lives until
/// the process exits: a watchdog process stops it and deletes its files as soon as
/// this process is gone, however it ends. Panics if the server cannot be started;
/// use [`fresh_database`] for a `Result`.
pub async fn shared_cluster() -> &'static PgCluster {
    match try_shared_cluster().await {
        Ok(cluster) => cluster,
        Err(err) => panic!("{err:#}"),
    }
}

async fn try_shared_cluster() -> anyhow::Result<&'static PgCluster> {
    let cluster = SHARED
        .get_or_init(|| async {
            PgCluster::start_ephemeral()
                .await
                .map_err(|err| format!("{err:#}"))
        })
        .await;
    cluster.as_ref().map_err(|err| anyhow!("{err}"))
}

/// A database made for one test on the shared cluster.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:PORT/t_<uuid>`.
    pub url: String,
    /// The database name, `t_` followed by a simple (dash-less) UUID.
    pub name: String,
}

/// Creates a new, empty, uniquely named database on [`shared_cluster`].
///
/// The database is a cheap clone of `template1` and is never dropped: it goes
/// away with the cluster when the test process exits.
pub async fn fresh_database() -> anyhow::Result<TestDatabase> {
    let cluster = try_shared_cluster().await?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    cluster.create_database(&name).await?;
    Ok(TestDatabase {
        url: cluster.url(&name),
        name,
    })
}
