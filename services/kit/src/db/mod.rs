//! PostgreSQL access: one lazily connected pool per service, its tables in the
//! service's own schema (via `search_path`), embedded migrations, statement
//! timeouts. A pool never blocks start-up: readiness reports the database.

mod executor;
pub mod migrations;
pub mod notify;
mod pool;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::ConnectOptions as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;

pub use executor::Tx;
pub use pool::{Conn, Pool, PoolOptions};

/// The database of one service: its schema name and migrations.
#[derive(Clone, Copy)]
pub struct Schema {
    /// The schema (also the service name), e.g. `identity`.
    pub name: &'static str,
    /// Its embedded migrations (`sqlx::migrate!()` in the service crate).
    pub migrator: &'static Migrator,
}

/// A pool whose connections live in `schema`. Connects lazily: a database that
/// is down makes calls fail with UNAVAILABLE and readiness NOT_SERVING, never
/// a crash at start.
///
/// Queries go to `url`; `LISTEN` and migrations go to `direct` when given
/// (`DATABASE_DIRECT_URL`: PostgreSQL itself when `url` is a transaction-mode
/// PgBouncer, which can keep neither a listener nor a session lock).
pub fn pool(
    url: &str,
    direct: Option<&str>,
    schema: &Schema,
    max_connections: u32,
) -> anyhow::Result<Pool> {
    let options =
        connect_options(url, schema).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let direct = match direct {
        Some(direct) => connect_options(direct, schema)
            .context("DATABASE_DIRECT_URL is not a valid PostgreSQL URL")?,
        None => options.clone(),
    };
    Ok(Pool::connect_lazy_via(
        options,
        direct,
        PoolOptions {
            max_connections,
            ..PoolOptions::default()
        },
    ))
}

/// How every connection of `schema` is opened.
fn connect_options(url: &str, schema: &Schema) -> Result<PgConnectOptions, sqlx::Error> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name(&format!("malha-{}", schema.name))
        .options([
            ("search_path", schema.name),
            ("statement_timeout", "10s"),
            ("idle_in_transaction_session_timeout", "30s"),
        ])
        // sqlx asks `tracing::enabled!` about its per-statement DEBUG line
        // after every query once any target logs at DEBUG; with per-layer
        // filters (the kit's logs and traces) an `enabled!` not followed by
        // its event leaves filter state behind, and the next span opened on
        // that thread (an outbox relay's publish) came out disabled, its
        // trace broken. Slow statements still warn.
        .log_statements(log::LevelFilter::Off))
}

/// Creates the schema if needed and applies pending migrations inside it
/// ([`migrations`] lists and reverts them).
pub async fn migrate(pool: &Pool, schema: &Schema) -> anyhow::Result<()> {
    // The schema name is a compile-time constant of the service, never input.
    let ddl = format!(
        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
        schema.name.replace('"', "")
    );
    sqlx::query(sqlx::AssertSqlSafe(ddl))
        .execute(pool)
        .await
        .with_context(|| format!("creating schema {}", schema.name))?;
    // The kit's event tables first: they depend on nothing, and a fresh
    // schema's newest step is then the service's own (`migrate --down 1`).
    crate::events::MIGRATOR
        .run(pool.admin())
        .await
        .with_context(|| format!("creating the event tables of {}", schema.name))?;
    schema
        .migrator
        .run(pool.admin())
        .await
        .with_context(|| format!("applying the migrations of {}", schema.name))?;
    Ok(())
}

/// True when the database answers a trivial query within a second.
pub async fn is_reachable(pool: &Pool) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool)
        )
        .await,
        Ok(Ok(1))
    )
}

/// Resolves once `migrated` is set (background workers start after the
/// schema exists).
pub async fn wait_migrated(migrated: &std::sync::atomic::AtomicBool) {
    while !migrated.load(std::sync::atomic::Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
