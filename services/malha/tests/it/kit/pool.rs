//! The kit's connection pool against a real PostgreSQL: connections are
//! reused without a check, a transaction dropped unfinished is rolled back,
//! an interrupted query leaves nothing behind, a connection the server killed
//! is replaced, and a full pool times out clearly.

use std::str::FromStr;
use std::time::Duration;

use malha_kit::db::{Pool, PoolOptions};
use sqlx::postgres::PgConnectOptions;

async fn pool(max_connections: u32) -> Pool {
    pool_with(PoolOptions {
        max_connections,
        ..PoolOptions::default()
    })
    .await
}

async fn pool_with(options: PoolOptions) -> Pool {
    let db = malha_testkit::fresh_database().await.unwrap();
    let connect = PgConnectOptions::from_str(&db.url).unwrap();
    Pool::connect_lazy(connect, options)
}

async fn backend_pid(pool: &Pool) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
}

#[tokio::test]
async fn pool_reuses_the_last_connection_and_answers_every_statement_kind() {
    let pool = pool(4).await;
    let first = backend_pid(&pool).await.unwrap();
    assert_eq!(backend_pid(&pool).await.unwrap(), first);
    assert_eq!(pool.idle_count(), 1);

    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .execute(&pool)
        .await
        .unwrap();
    let inserted = sqlx::query("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(inserted.rows_affected(), 2);
    let all: Vec<(i32, String)> = sqlx::query_as("SELECT id, v FROM t ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(all, [(1, "a".to_owned()), (2, "b".to_owned())]);
    let none: Option<i32> = sqlx::query_scalar("SELECT id FROM t WHERE id = 9")
        .fetch_optional(&pool)
        .await
        .unwrap();
    assert_eq!(none, None);
    let streamed: Vec<i32> = futures::TryStreamExt::try_collect(
        sqlx::query_scalar::<_, i32>("SELECT id FROM t ORDER BY id").fetch(&pool),
    )
    .await
    .unwrap();
    assert_eq!(streamed, [1, 2]);

    let refused = sqlx::query("INSERT INTO t VALUES (1, 'again')")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.as_database_error().is_some(), "{refused}");
    assert_eq!(
        backend_pid(&pool).await.unwrap(),
        first,
        "a refused statement keeps its connection"
    );
}

#[tokio::test]
async fn pool_rolls_back_a_transaction_dropped_without_commit() {
    let pool = pool(1).await;
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut *tx)
        .await
        .unwrap();
    drop(tx);

    let mut tx = pool.begin().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count, 0, "the dropped transaction's row is gone");
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM t")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids, [2]);
    let xid = || sqlx::query_scalar::<_, i64>("SELECT txid_current()").fetch_one(&pool);
    assert_ne!(
        xid().await.unwrap(),
        xid().await.unwrap(),
        "each statement runs in its own transaction again"
    );
}

/// The dropped transaction's ROLLBACK goes out when the connection comes
/// back, not at its next use: an idle pool holds no open transaction (no
/// snapshot that vacuum waits for, no server connection pinned behind a
/// transaction-mode PgBouncer).
#[tokio::test]
async fn pool_ends_a_dropped_transaction_while_the_connection_sits_idle() {
    use sqlx::Connection as _;
    let db = malha_testkit::fresh_database().await.unwrap();
    let pool = Pool::connect_lazy(
        PgConnectOptions::from_str(&db.url).unwrap(),
        PoolOptions::default(),
    );
    let mut watcher = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    drop(tx);

    let mut state = String::new();
    for _ in 0..50 {
        state = sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        if state == "idle" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "idle", "backend {pid} left idle in transaction");
    assert_eq!(pool.idle_count(), 1, "the connection is back in the pool");
}

#[tokio::test]
async fn pool_connection_interrupted_mid_query_answers_its_next_user_correctly() {
    let pool = pool(1).await;
    let interrupted = tokio::time::timeout(
        Duration::from_millis(50),
        sqlx::query_scalar::<_, i32>("SELECT 1 FROM pg_sleep(0.4)").fetch_one(&pool),
    )
    .await;
    assert!(interrupted.is_err(), "the slow query was cut off");

    let answer: i32 = sqlx::query_scalar("SELECT 2")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(answer, 2, "no leftover row from the interrupted query");
}

#[tokio::test]
async fn pool_replaces_a_connection_the_server_terminated() {
    let pool = pool(2).await;
    let victim = backend_pid(&pool).await.unwrap();
    let killer = malha_testkit::shared_cluster().await;
    let admin = sqlx::PgPool::connect(&killer.url("postgres"))
        .await
        .unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(victim)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(killed);
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The idle connection is not checked before use (it was used a moment
    // ago), so one call sees the failure; the pool then drops it.
    assert!(backend_pid(&pool).await.is_err());
    let replacement = backend_pid(&pool).await.unwrap();
    assert_ne!(replacement, victim);
}

#[tokio::test]
async fn pool_full_times_out_with_pool_timed_out_then_recovers() {
    let pool = pool_with(PoolOptions {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(2),
        ..PoolOptions::default()
    })
    .await;
    let held = pool.acquire().await.unwrap();
    let waited = pool.acquire().await.unwrap_err();
    assert!(matches!(waited, sqlx::Error::PoolTimedOut), "{waited}");
    drop(held);
    assert!(backend_pid(&pool).await.is_ok());

    pool.close().await;
    assert!(matches!(
        pool.acquire().await.unwrap_err(),
        sqlx::Error::PoolClosed
    ));
}

#[tokio::test]
async fn pool_retires_connections_past_their_idle_time_or_lifetime() {
    let idle = pool_with(PoolOptions {
        idle_timeout: Duration::ZERO,
        ..PoolOptions::default()
    })
    .await;
    let first = backend_pid(&idle).await.unwrap();
    assert_ne!(
        backend_pid(&idle).await.unwrap(),
        first,
        "idle too long: replaced"
    );

    let short_lived = pool_with(PoolOptions {
        max_lifetime: Duration::ZERO,
        ..PoolOptions::default()
    })
    .await;
    backend_pid(&short_lived).await.unwrap();
    assert_eq!(
        short_lived.idle_count(),
        0,
        "too old to go back to the pool"
    );
}

/// A call cancelled between sending BEGIN and reading its answer (a client
/// gone at the end of a load run) left sqlx believing no transaction was
/// open while the server had one: the next user's statements ran inside it,
/// uncommitted, and a later rollback would have taken them away. Such a
/// connection is now closed instead of reused.
#[tokio::test]
async fn pool_never_hands_out_a_connection_left_inside_a_cancelled_begin() {
    use sqlx::Connection as _;
    let db = malha_testkit::fresh_database().await.unwrap();
    let pool = Pool::connect_lazy(
        PgConnectOptions::from_str(&db.url).unwrap(),
        PoolOptions {
            max_connections: 1,
            ..PoolOptions::default()
        },
    );
    let mut watcher = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (n bigint)")
        .execute(&pool)
        .await
        .unwrap();
    let mut cut = 0;
    for i in 0..600i64 {
        // Every delay from 0 to ~150 µs: some cut BEGIN off mid-flight.
        let delay = Duration::from_micros(u64::try_from(i % 150).unwrap());
        if tokio::time::timeout(delay, pool.begin()).await.is_err() {
            cut += 1;
        }
        // A write outside any transaction is committed when it answers.
        sqlx::query("INSERT INTO kept VALUES ($1)")
            .bind(i)
            .execute(&pool)
            .await
            .unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM kept WHERE n = $1")
            .bind(i)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        assert_eq!(
            seen, 1,
            "write {i} answered but is not committed: its connection sat inside a transaction"
        );
    }
    assert!(cut > 0, "no BEGIN was cut off: the test proved nothing");
}
