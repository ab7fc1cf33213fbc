//! `WatchRequests`: the open requests matching the filter (the snapshot),
//! then every matching change as it commits, with heartbeats; a client that
//! reconnects with the last cursor it saw gets every change after it, once.
//!
//! The cursor is a change's number in `request_changes`, which numbers
//! changes in commit order (see [`crate::store::changes`]): having read up to
//! N, a reader has seen every change at or below N, on any replica. The
//! stream sends changes by number, so a wake-up seen twice sends nothing
//! twice. Wake-ups come from the kit's [`malha_kit::feed::Signals`] (NOTIFY
//! from every replica's commits), with a slow re-read as a safety net.

use std::pin::Pin;
use std::time::Duration;

use prost::Message as _;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status as GrpcStatus;

use super::{convert, parse};
use crate::Care;
use crate::store::changes::{self, ChangeFilter};
use crate::store::requests::{self, Filter};
use malha_api::malha::care::v1::watch_requests_response::Event;
use malha_api::malha::care::v1::*;
use malha_kit::stored::readable_rows;
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult};

/// The stream `WatchRequests` answers with.
pub(super) type WatchStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<WatchRequestsResponse, GrpcStatus>> + Send>>;

type Sender = mpsc::Sender<Result<WatchRequestsResponse, GrpcStatus>>;

/// How often a watcher re-reads without a wake-up.
const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// Changes read per query while catching up.
const BATCH: i64 = 200;

fn cursor(seq: i64) -> String {
    seq.to_string()
}

fn heartbeat(seq: i64) -> WatchRequestsResponse {
    WatchRequestsResponse {
        event: Some(Event::Heartbeat(
            malha_kit::time::to_proto(chrono::Utc::now()).unwrap_or_default(),
        )),
        cursor: cursor(seq),
    }
}

pub(super) async fn open(
    service: &Care,
    request: WatchRequestsRequest,
) -> ServiceResult<WatchStream> {
    let mut v = Violations::new();
    let filter = parse::filter(&mut v, &request.ward, request.kind, request.status);
    let resume = if request.cursor.is_empty() {
        None
    } else {
        let parsed = request.cursor.parse::<i64>().ok().filter(|seq| *seq >= 0);
        if parsed.is_none() {
            v.add("cursor", "not a cursor from this stream");
        }
        parsed
    };
    v.finish()?;

    // Subscribe before reading, so no change falls between the two.
    let signals = service.signals.subscribe();
    let (tx, rx) = mpsc::channel(64);
    let (from, snapshot) = match resume {
        Some(seq) => {
            if seq > changes::latest(&service.pool).await? {
                return Err(ServiceError::invalid(
                    "cursor",
                    "not a cursor from this stream",
                ));
            }
            (seq, None)
        }
        None => {
            let (seq, open) = snapshot(service, &filter).await?;
            (seq, Some(open))
        }
    };
    tokio::spawn(follow(service.clone(), filter, from, snapshot, signals, tx));
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The newest change's number and the open requests as of it, read in one
/// snapshot so the two agree.
async fn snapshot(service: &Care, filter: &Filter) -> ServiceResult<(i64, Vec<CareRequest>)> {
    let mut tx = service.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let seq = changes::latest(&mut *tx).await?;
    let rows = requests::open(&mut *tx, filter).await?;
    tx.commit().await?;
    Ok((
        seq,
        readable_rows(
            "care request",
            rows,
            |r| r.id.to_string(),
            |r| convert::request(&r),
        ),
    ))
}

/// Sends the snapshot (when this is a fresh watch: its requests, then a
/// heartbeat carrying its cursor), then the matching changes after `seq` as
/// they commit, and heartbeats, until the client goes away or the server
/// shuts down.
async fn follow(
    service: Care,
    filter: Filter,
    mut seq: i64,
    snapshot: Option<Vec<CareRequest>>,
    mut signals: broadcast::Receiver<String>,
    tx: Sender,
) {
    if let Some(open) = snapshot {
        for request in open {
            let message = WatchRequestsResponse {
                event: Some(Event::Request(request)),
                cursor: cursor(seq),
            };
            if tx.send(Ok(message)).await.is_err() {
                return;
            }
        }
        if tx.send(Ok(heartbeat(seq))).await.is_err() {
            return;
        }
    }
    let mut shutdown = service.signals.shutdown();
    let mut last_sent = Instant::now();
    loop {
        match send_new_changes(&service, &filter, &mut seq, &tx).await {
            Ok(0) => {}
            Ok(_) => last_sent = Instant::now(),
            Err(Stop::ClientLeft) => return,
            Err(Stop::Failed(error)) => {
                let _ = tx.send(Err(error.into())).await;
                return;
            }
        }
        tokio::select! {
            signal = signals.recv() => match signal {
                // Lagged: some wake-ups were dropped; re-reading covers them.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = tokio::time::sleep(FALLBACK_POLL) => {}
            () = tokio::time::sleep_until(last_sent + service.heartbeat) => {
                if tx.send(Ok(heartbeat(seq))).await.is_err() {
                    return;
                }
                last_sent = Instant::now();
            }
            _ = shutdown.changed() => {
                let _ = tx.send(Err(GrpcStatus::unavailable("the server is shutting down; watch again with the last cursor"))).await;
                return;
            }
            () = tx.closed() => return,
        }
    }
}

enum Stop {
    ClientLeft,
    Failed(ServiceError),
}

impl From<ServiceError> for Stop {
    fn from(error: ServiceError) -> Self {
        Self::Failed(error)
    }
}

/// Sends every matching change after `seq` up to the newest committed one,
/// moving `seq` to it; how many were sent.
async fn send_new_changes(
    service: &Care,
    filter: &Filter,
    seq: &mut i64,
    tx: &Sender,
) -> Result<usize, Stop> {
    let upto = changes::latest(&service.pool).await?;
    let change_filter = ChangeFilter {
        ward: filter.ward.as_deref(),
        kind: filter.kind,
        status: filter.status,
    };
    let mut sent = 0;
    let mut from = *seq;
    loop {
        let rows = changes::after(&service.pool, from, upto, &change_filter, BATCH).await?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == BATCH;
        for row in rows {
            let request = CareRequest::decode(row.snapshot.as_slice()).map_err(|e| {
                ServiceError::Internal(anyhow::anyhow!("change {} does not decode: {e}", row.seq))
            })?;
            let message = WatchRequestsResponse {
                event: Some(Event::Request(request)),
                cursor: cursor(row.seq),
            };
            if tx.send(Ok(message)).await.is_err() {
                return Err(Stop::ClientLeft);
            }
            from = row.seq;
            sent += 1;
        }
        if !full {
            break;
        }
    }
    *seq = upto.max(*seq);
    Ok(sent)
}
