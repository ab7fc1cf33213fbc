//! What pharmacy consumes: `care.request.completed`. A completed medicine or
//! material request names the cabinet its items came from; pharmacy records
//! the dispense movements once (the kit's inbox skips a redelivered event,
//! and [`dispense_once`]'s source key, one per care request, skips a second
//! event for the same request), or, when the cabinet lacks something,
//! writes nothing and reports back with `pharmacy.delivery.refused`, which
//! care records in the request's history.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::events::DELIVERY_REFUSED;
use crate::store::stock::{DispenseBatch, DispenseLine, DispenseOutcome, dispense_once};
use malha_api::malha::care::v1::RequestCompleted;
use malha_api::malha::events::v1::Envelope;
use malha_api::malha::pharmacy::v1::DeliveryRefused;
use malha_kit::ServiceResult;
use malha_kit::error::ServiceError;
use malha_kit::events::{self, ConsumerSpec, Handler, open};

/// Care's completed requests.
pub const REQUEST_COMPLETED: &str = "care.request.completed";

/// How the ledger names who dispensed a care delivery: care, on behalf of
/// the pharmacist who completed the request (named in care's history).
const ACTOR: &str = "service:care";

/// The consumers pharmacy runs.
pub(crate) fn consumers() -> Vec<(ConsumerSpec, Arc<dyn Handler>)> {
    vec![(
        ConsumerSpec {
            name: "pharmacy-care-completed",
            source: "care",
            subject: REQUEST_COMPLETED,
            max_deliver: 10,
        },
        Arc::new(DispenseDelivery),
    )]
}

/// Dispenses a completed request's items from its cabinet.
pub struct DispenseDelivery;

impl Handler for DispenseDelivery {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let event: RequestCompleted = open(envelope)?;
            dispense_delivery_once(tx, &event).await
        })
    }
}

/// The effect of one `RequestCompleted` in the consumer's transaction: the
/// movements, or the refusal event, never both and never twice.
pub async fn dispense_delivery_once(
    tx: &mut PgConnection,
    event: &RequestCompleted,
) -> ServiceResult<()> {
    let Some(request) = &event.request else {
        tracing::warn!("care.request.completed without its request; skipped");
        return Ok(());
    };
    if request.items.is_empty() {
        // Assistance: nothing leaves a cabinet.
        return Ok(());
    }
    let refuse = async |tx: &mut PgConnection, reason: String| -> ServiceResult<()> {
        let refused = DeliveryRefused {
            care_request_id: request.id.clone(),
            dispenser_id: request.dispenser_id.clone(),
            reason,
        };
        events::publish(tx, crate::SCHEMA.name, DELIVERY_REFUSED, &refused).await?;
        Ok(())
    };
    let (Ok(request_id), Ok(dispenser_id)) = (
        Uuid::parse_str(&request.id),
        Uuid::parse_str(&request.dispenser_id),
    ) else {
        return refuse(tx, "the request names no cabinet pharmacy can read".into()).await;
    };
    let mut lines = Vec::with_capacity(request.items.len());
    for item in &request.items {
        let Ok(item_id) = Uuid::parse_str(&item.item_id) else {
            return refuse(tx, format!("{:?} is not an item id", item.item_id)).await;
        };
        lines.push(DispenseLine {
            item_id,
            quantity: item.quantity,
        });
    }
    let source_key = format!("care-request:{request_id}");
    let reason = format!(
        "care request {request_id} completed (ward {}, bed {})",
        request.ward, request.bed
    );
    let outcome = dispense_once(
        tx,
        &DispenseBatch {
            source_key: &source_key,
            dispenser_id,
            care_request_id: Some(request_id),
            lines: &lines,
            actor: ACTOR,
            reason: &reason,
        },
    )
    .await?;
    match outcome {
        DispenseOutcome::Recorded(movements) => {
            tracing::debug!(care_request = %request_id, movements = movements.len(), "delivery dispensed");
            Ok(())
        }
        DispenseOutcome::AlreadyRecorded(_) => Ok(()),
        DispenseOutcome::Refused(shortfalls) => {
            let reason = shortfalls
                .iter()
                .map(|s| s.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            refuse(tx, reason).await
        }
    }
}
