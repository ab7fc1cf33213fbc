//! The kit's shared LISTEN against a real PostgreSQL: one listening backend
//! per database whatever the channels and pools, notifications reach only
//! their channel's subscribers, and a dropped connection ends every
//! subscription with `Lost` (then subscribing again works).

use std::str::FromStr;
use std::time::Duration;

use malha_kit::db::notify::Lost;
use malha_kit::db::{Pool, PoolOptions};
use sqlx::postgres::PgConnectOptions;

const WAIT: Duration = Duration::from_secs(10);

fn pool_on(url: &str) -> Pool {
    Pool::connect_lazy(
        PgConnectOptions::from_str(url).unwrap(),
        PoolOptions::default(),
    )
}

/// The backends of this database that LISTEN (their last statement).
async fn listening(pool: &Pool) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn notify(pool: &Pool, channel: &str, payload: &str) {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn one_listening_backend_per_database_serves_every_channel_and_pool() {
    let db = malha_testkit::fresh_database().await.unwrap();
    // Two services' pools on one database, as `malha serve` runs them.
    let (first, second) = (pool_on(&db.url), pool_on(&db.url));
    let mut outbox = first.subscribe("malha_test_outbox").await.unwrap();
    let mut panel = second.subscribe("malha_test_panel").await.unwrap();
    let mut panel_too = first.subscribe("malha_test_panel").await.unwrap();
    assert_eq!(listening(&first).await.len(), 1, "one backend listens");

    notify(&second, "malha_test_panel", "unit-7").await;
    notify(&first, "malha_test_outbox", "").await;
    let got = |s: &'static str| move |p: std::sync::Arc<str>| assert_eq!(&*p, s);
    tokio::time::timeout(WAIT, panel.recv())
        .await
        .unwrap()
        .map(got("unit-7"))
        .unwrap();
    tokio::time::timeout(WAIT, panel_too.recv())
        .await
        .unwrap()
        .map(got("unit-7"))
        .unwrap();
    tokio::time::timeout(WAIT, outbox.recv())
        .await
        .unwrap()
        .map(got(""))
        .unwrap();
    // Nothing else arrived on either channel.
    assert_eq!(outbox.drain(), Ok(()));
    assert_eq!(panel.drain(), Ok(()));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), outbox.recv())
            .await
            .is_err()
    );

    // The server drops the shared connection: every subscription hears it.
    let pid = listening(&first).await[0];
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&first)
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, panel.recv()).await.unwrap(),
        Err(Lost)
    );
    assert_eq!(
        tokio::time::timeout(WAIT, outbox.recv()).await.unwrap(),
        Err(Lost)
    );

    // Subscribing again opens a new shared connection that works.
    let mut again = second.subscribe("malha_test_panel").await.unwrap();
    let mut outbox = first.subscribe("malha_test_outbox").await.unwrap();
    let now = listening(&first).await;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0], pid);
    notify(&first, "malha_test_panel", "unit-8").await;
    tokio::time::timeout(WAIT, again.recv())
        .await
        .unwrap()
        .map(got("unit-8"))
        .unwrap();
    notify(&first, "malha_test_outbox", "").await;
    tokio::time::timeout(WAIT, outbox.recv())
        .await
        .unwrap()
        .map(got(""))
        .unwrap();
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_it_lost_notifications() {
    let db = malha_testkit::fresh_database().await.unwrap();
    let pool = pool_on(&db.url);
    let mut slow = pool.subscribe("malha_test_flood").await.unwrap();
    let mut done = pool.subscribe("malha_test_flood_done").await.unwrap();
    let flood = malha_kit::db::notify::CAPACITY + 10;
    // Distinct payloads, so PostgreSQL folds none of them.
    sqlx::query("SELECT pg_notify('malha_test_flood', n::text) FROM generate_series(1, $1) n")
        .bind(i32::try_from(flood).unwrap())
        .execute(&pool)
        .await
        .unwrap();
    notify(&pool, "malha_test_flood_done", "").await;
    // The one connection delivers in commit order and the hub forwards in
    // order: once this arrives, the flood has been forwarded.
    tokio::time::timeout(WAIT, done.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slow.recv().await, Err(Lost));
}
