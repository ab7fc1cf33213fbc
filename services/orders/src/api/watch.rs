//! `WatchOrder`: the order now (with its history), then one message per
//! status change, in order, until it is delivered or cancelled. Fed by the
//! per-process [`crate::watch::Hub`] (local commits and every replica's
//! NOTIFY), with a slow re-read as a safety net; changes are sent by
//! sequence number, so a signal seen twice sends nothing twice.

use std::pin::Pin;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status as GrpcStatus;
use uuid::Uuid;

use super::{ensure_visible, read};
use crate::Orders;
use crate::store::orders;
use crate::watch::FALLBACK_POLL;
use malha_api::malha::orders::v1::*;
use malha_kit::ServiceResult;
use malha_kit::auth::Principal;
use malha_kit::validate::Violations;

/// The stream `WatchOrder` answers with.
pub(super) type WatchStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<WatchOrderResponse, GrpcStatus>> + Send>>;

type Sender = mpsc::Sender<Result<WatchOrderResponse, GrpcStatus>>;

pub(super) async fn open(
    service: &Orders,
    request: WatchOrderRequest,
    caller: &Principal,
) -> ServiceResult<WatchStream> {
    let mut v = Violations::new();
    let id = v.uuid(&request.order_id, "order_id");
    v.finish()?;
    let row = orders::get(&service.pool, id, false).await?;
    ensure_visible(caller, &row)?;
    // Subscribe before reading, so no change falls between the two.
    let changes = service.hub.subscribe();
    let order = read::full(service, id).await?;
    let sent = order.history.last().map_or(0, |h| h.sequence);
    let done = is_final(&order);
    let (tx, rx) = mpsc::channel(16);
    tx.try_send(Ok(WatchOrderResponse {
        order: Some(order),
        change: None,
    }))
    .ok();
    if !done {
        tokio::spawn(follow(service.clone(), id, sent, changes, tx));
    }
    Ok(Box::pin(ReceiverStream::new(rx)))
}

fn is_final(order: &Order) -> bool {
    matches!(
        OrderStatus::try_from(order.status),
        Ok(OrderStatus::Delivered | OrderStatus::Cancelled)
    )
}

/// Sends the changes after `sent` until the order is final, the client goes
/// away, or the server shuts down.
async fn follow(
    service: Orders,
    id: Uuid,
    mut sent: i32,
    mut changes: broadcast::Receiver<Uuid>,
    tx: Sender,
) {
    let mut shutdown = service.hub.shutdown();
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Ok(changed) if changed != id => continue,
                // Lagged: some signals were dropped; re-reading covers them.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = tokio::time::sleep(FALLBACK_POLL) => {}
            _ = shutdown.changed() => {
                let _ = tx.send(Err(GrpcStatus::unavailable("the server is shutting down; watch again"))).await;
                return;
            }
            () = tx.closed() => return,
        }
        match send_new_changes(&service, id, &mut sent, &tx).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                let _ = tx.send(Err(error.into())).await;
                return;
            }
        }
    }
}

/// Sends the changes with a sequence above `sent`; false when the stream
/// should end (final status, or the client left).
async fn send_new_changes(
    service: &Orders,
    id: Uuid,
    sent: &mut i32,
    tx: &Sender,
) -> ServiceResult<bool> {
    let order = read::full(service, id).await?;
    let fresh: Vec<StatusChange> = order
        .history
        .iter()
        .filter(|h| h.sequence > *sent)
        .cloned()
        .collect();
    for change in fresh {
        *sent = change.sequence;
        let message = WatchOrderResponse {
            order: Some(order.clone()),
            change: Some(change),
        };
        if tx.send(Ok(message)).await.is_err() {
            return Ok(false);
        }
    }
    Ok(!is_final(&order))
}
