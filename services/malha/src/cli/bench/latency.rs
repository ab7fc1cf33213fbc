//! Target 3, event latency: project created → inventory updated, p50 and
//! p99 at a steady 200 projects/s, from the database's own timestamps (the
//! project's transaction start to the consuming transaction's start).

use std::time::{Duration, Instant};

use super::Bench;
use super::load::Shape;

const RATE: u32 = 200;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let product = super::db::create_product(bench, "BENCH-LATENCY").await?;
    let pool = sqlx::PgPool::connect(&bench.database_url).await?;
    // Earlier scenarios may have left events in flight: start from an idle bus.
    let drained = Instant::now();
    loop {
        let backlog: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM projects.outbox WHERE subject = 'projects.project.created')
                  - (SELECT count(*) FROM inventory.inbox WHERE consumer = 'inventory-project-created')",
        )
        .fetch_one(&pool)
        .await?;
        if backlog <= 0 || drained.elapsed() > Duration::from_secs(180) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM projects.projects")
        .fetch_one(&pool)
        .await?;
    let shape = Shape {
        concurrency: 20,
        connections: 2,
        rps: RATE,
        ..bench.shape
    };
    let sent = bench.call(
        &bench.full.clone(),
        "malha.projects.v1.ProjectsService/CreateProject",
        &format!(
            r#"{{"project":{{"name":"Latency","materials":[{{"product_id":"{product}","product_name":"BENCH-LATENCY","quantity":"1"}}]}}}}"#
        ),
        true,
        shape,
    )
    .await?;
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM projects.projects")
        .fetch_one(&pool)
        .await?;
    let expected = created - before;
    let started = Instant::now();
    loop {
        let consumed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM inventory.movements WHERE product_id = $1::uuid",
        )
        .bind(&product)
        .fetch_one(&pool)
        .await?;
        if consumed >= expected || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (p50, p99): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
           FROM (SELECT extract(epoch FROM m.created_at - p.created_at) * 1000 AS ms
                   FROM projects.projects p
                   JOIN inventory.movements m ON m.source = 'project:' || p.id::text
                  WHERE m.product_id = $1::uuid) latencies",
    )
    .bind(&product)
    .fetch_one(&pool)
    .await?;
    let (p50, p99) = (p50.unwrap_or(f64::MAX), p99.unwrap_or(f64::MAX));
    // Where the time goes: outbox → broker (relay) and the consumer's pace.
    let (relay_p50, relay_p99): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
           FROM (SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms
                   FROM projects.outbox
                  WHERE published_at IS NOT NULL AND subject = 'projects.project.created') lags",
    )
    .fetch_one(&pool)
    .await?;
    let consumed_per_second: Option<f64> = sqlx::query_scalar(
        "SELECT (count(*) / NULLIF(extract(epoch FROM max(created_at) - min(created_at)), 0))::float8
           FROM inventory.movements WHERE product_id = $1::uuid",
    )
    .bind(&product)
    .fetch_one(&pool)
    .await?;
    println!(
        "events: relay lag p50 {:.1} ms p99 {:.1} ms; consumer pace {:.0} events/s",
        relay_p50.unwrap_or(-1.0),
        relay_p99.unwrap_or(-1.0),
        consumed_per_second.unwrap_or(-1.0)
    );
    let scenario = format!(
        "project → inventory at {:.0}/s ({expected} projects)",
        sent.rps
    );
    bench.judged(
        "3 events",
        format!("{scenario}: p50"),
        None,
        format!("{p50:.1} ms"),
        "50 ms".into(),
        p50 / 50.0,
        "< 1.00".into(),
        p50 < 50.0,
    );
    bench.judged(
        "3 events",
        format!("{scenario}: p99"),
        None,
        format!("{p99:.1} ms"),
        "50 ms".into(),
        p99 / 50.0,
        "< 1.00".into(),
        p99 < 50.0,
    );
    Ok(())
}
