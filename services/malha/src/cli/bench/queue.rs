//! Target queue: the totem and desk path at a steady rate (IssueTicket and
//! CallNext p99), and the hot reads. A stats read and a panel snapshot
//! come from the replica's memory (kit `hot`, kept fresh by NOTIFY). This
//! is counted with the database's own transaction counter: what the reads
//! add over an idle window of the same length (uncached, a stats read is
//! two statements).

use std::time::Instant;

use malha_api::malha::queue::v1::queue_service_client::QueueServiceClient;
use malha_api::malha::queue::v1::{
    CreateDeskRequest, CreateServiceRequest, CreateUnitRequest, Desk, GetQueueStatsRequest,
    Service, Unit,
};

use super::Bench;
use super::load::Shape;

/// Tickets per second a busy clinic network might issue, far above one unit.
const RATE: u32 = 200;
/// Stats reads per second (every reception screen polling).
const READS: u32 = 500;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let (unit, service, desk) = clinic(bench).await?;
    let shape = Shape {
        concurrency: 20,
        connections: 2,
        rps: RATE,
        ..bench.shape
    };
    let full = bench.full.clone();
    let issue = bench
        .call(
            &full,
            "malha.queue.v1.QueueService/IssueTicket",
            &format!(
                r#"{{"unitId":"{unit}","serviceId":"{service}","priority":"PRIORITY_NORMAL"}}"#
            ),
            true,
            shape,
        )
        .await?;
    bench.measured("queue", format!("IssueTicket at {RATE}/s"), issue);
    let call = bench
        .call(
            &full,
            "malha.queue.v1.QueueService/CallNext",
            &format!(r#"{{"deskId":"{desk}"}}"#),
            true,
            shape,
        )
        .await?;
    bench.measured("queue", format!("CallNext at {RATE}/s (one desk)"), call);

    // Warm the replica's memory, then read steadily.
    let mut client = QueueServiceClient::connect(format!("http://{full}")).await?;
    client
        .get_queue_stats(bench.authed(GetQueueStatsRequest {
            unit_id: unit.clone(),
        })?)
        .await?;
    let db = sqlx::PgPool::connect(&bench.database_url).await?;
    let started = Instant::now();
    let before = commits(&db).await?;
    let reads = bench
        .call(
            &full,
            "malha.queue.v1.QueueService/GetQueueStats",
            &format!(r#"{{"unitId":"{unit}"}}"#),
            true,
            Shape {
                rps: READS,
                ..shape
            },
        )
        .await?;
    let busy = commits(&db).await? - before;
    let took = started.elapsed();
    let before = commits(&db).await?;
    tokio::time::sleep(took).await;
    let idle = commits(&db).await? - before;
    let calls = reads.rps * took.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_read = (busy - idle).max(0) as f64 / calls.max(1.0);
    bench.judged(
        "queue",
        format!("GetQueueStats at {READS}/s: DB transactions per read"),
        Some(reads),
        format!("{per_read:.4}"),
        "2 (uncached)".into(),
        per_read / 2.0,
        "< 0.05".into(),
        per_read < 0.05,
    );
    db.close().await;
    Ok(())
}

async fn commits(db: &sqlx::PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(db)
    .await?)
}

/// A unit with one service and one desk serving it: (unit, service, desk).
async fn clinic(bench: &Bench) -> anyhow::Result<(String, String, String)> {
    let mut client = QueueServiceClient::connect(format!("http://{}", bench.full)).await?;
    let unit = client
        .create_unit(bench.authed(CreateUnitRequest {
            unit: Some(Unit {
                name: format!("Bench {}", uuid::Uuid::now_v7()),
                ..Unit::default()
            }),
            request_id: String::new(),
        })?)
        .await?
        .into_inner()
        .unit
        .unwrap_or_default()
        .id;
    let service = client
        .create_service(bench.authed(CreateServiceRequest {
            service: Some(Service {
                unit_id: unit.clone(),
                name: "Bench".into(),
                letter: "B".into(),
                ..Service::default()
            }),
            request_id: String::new(),
        })?)
        .await?
        .into_inner()
        .service
        .unwrap_or_default()
        .id;
    let desk = client
        .create_desk(bench.authed(CreateDeskRequest {
            desk: Some(Desk {
                unit_id: unit.clone(),
                name: "Bench desk".into(),
                service_ids: vec![service.clone()],
                ..Desk::default()
            }),
            request_id: String::new(),
        })?)
        .await?
        .into_inner()
        .desk
        .unwrap_or_default()
        .id;
    Ok((unit, service, desk))
}
