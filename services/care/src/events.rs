//! What care publishes, through the outbox inside the transaction that
//! changed the request (an event is sent exactly when its change commits),
//! and what it consumes: pharmacy's refusal of a delivery, recorded once
//! (inbox) in the request's history.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::record::{self, What};
use crate::store::requests;
use malha_api::malha::care::v1::{
    CareRequest, RequestCompleted, RequestCreated, RequestStatusChanged, StatusChange,
};
use malha_api::malha::events::v1::Envelope;
use malha_api::malha::pharmacy::v1::DeliveryRefused;
use malha_kit::ServiceResult;
use malha_kit::error::ServiceError;
use malha_kit::events::{self, ConsumerSpec, Handler, open};

/// A request was created.
pub const REQUEST_CREATED: &str = "care.request.created";
/// A request's status changed.
pub const REQUEST_STATUS_CHANGED: &str = "care.request.status_changed";
/// A request was completed: pharmacy dispenses its items.
pub const REQUEST_COMPLETED: &str = "care.request.completed";
/// Pharmacy could not dispense a completed request's items.
pub const DELIVERY_REFUSED: &str = "pharmacy.delivery.refused";

/// How the history names pharmacy when it reports back.
pub const PHARMACY_ACTOR: &str = "service:pharmacy";

pub(crate) async fn created(tx: &mut PgConnection, request: &CareRequest) -> ServiceResult<()> {
    let event = RequestCreated {
        request: Some(request.clone()),
    };
    events::publish(tx, crate::SCHEMA.name, REQUEST_CREATED, &event).await?;
    Ok(())
}

pub(crate) async fn status_changed(
    tx: &mut PgConnection,
    request: &CareRequest,
    change: StatusChange,
) -> ServiceResult<()> {
    let event = RequestStatusChanged {
        request: Some(request.clone()),
        change: Some(change),
    };
    events::publish(tx, crate::SCHEMA.name, REQUEST_STATUS_CHANGED, &event).await?;
    Ok(())
}

pub(crate) async fn completed(tx: &mut PgConnection, request: &CareRequest) -> ServiceResult<()> {
    let event = RequestCompleted {
        request: Some(request.clone()),
    };
    events::publish(tx, crate::SCHEMA.name, REQUEST_COMPLETED, &event).await?;
    Ok(())
}

/// The consumers care runs.
pub(crate) fn consumers() -> Vec<(ConsumerSpec, Arc<dyn Handler>)> {
    vec![(
        ConsumerSpec {
            name: "care-delivery-refused",
            source: "pharmacy",
            subject: DELIVERY_REFUSED,
            max_deliver: 10,
        },
        Arc::new(RecordRefusal),
    )]
}

/// Notes pharmacy's refusal in the request's history (once: the inbox).
pub struct RecordRefusal;

impl Handler for RecordRefusal {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let event: DeliveryRefused = open(envelope)?;
            record_refusal_once(tx, &event).await
        })
    }
}

/// The effect of one `DeliveryRefused`: a history entry on the request,
/// which the watch streams too. A request care does not know is logged and
/// skipped (nothing to note it on).
pub async fn record_refusal_once(
    tx: &mut PgConnection,
    event: &DeliveryRefused,
) -> ServiceResult<()> {
    let Ok(id) = Uuid::parse_str(&event.care_request_id) else {
        tracing::warn!(
            care_request = event.care_request_id,
            "delivery refusal for a malformed request id; skipped"
        );
        return Ok(());
    };
    let row = match requests::get(&mut *tx, id, true).await {
        Ok(row) => row,
        Err(ServiceError::NotFound { .. }) => {
            tracing::warn!(care_request = %id, "delivery refusal for an unknown request; skipped");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    let reason = format!("pharmacy refused the delivery: {}", event.reason);
    record::change(tx, &row, What::Noted, PHARMACY_ACTOR, &reason).await?;
    Ok(())
}
