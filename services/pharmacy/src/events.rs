//! What pharmacy publishes, through the outbox inside the transaction that
//! moved the stock: an event is sent exactly when its movement commits.

use sqlx::PgConnection;

use crate::api::convert;
use crate::store::dispensers::{Dispenser, Pocket};
use crate::store::stock::Movement;
use malha_api::malha::pharmacy::v1::{StockDispensed, StockLow};
use malha_kit::ServiceResult;
use malha_kit::events;

/// A movement left a pocket below its minimum (once per fall).
pub const STOCK_LOW: &str = "pharmacy.stock.low";
/// A dispense movement was recorded.
pub const STOCK_DISPENSED: &str = "pharmacy.stock.dispensed";
/// A completed care request named items the cabinet did not have; nothing
/// of it was dispensed. Published by the consumer of `care.request.completed`.
pub const DELIVERY_REFUSED: &str = "pharmacy.delivery.refused";

pub(crate) async fn dispensed(tx: &mut PgConnection, movement: &Movement) -> ServiceResult<()> {
    let event = StockDispensed {
        movement: Some(convert::movement(movement.clone())),
    };
    events::publish(tx, crate::SCHEMA.name, STOCK_DISPENSED, &event).await?;
    Ok(())
}

pub(crate) async fn stock_low(
    tx: &mut PgConnection,
    dispenser: &Dispenser,
    pocket: &Pocket,
    quantity: i64,
) -> ServiceResult<()> {
    let event = StockLow {
        dispenser_id: dispenser.id.to_string(),
        pocket: pocket.pocket.clone(),
        item: Some(convert::item(pocket.item.clone())),
        quantity,
        minimum: pocket.minimum,
        location: Some(convert::location(dispenser.location.clone())),
    };
    events::publish(tx, crate::SCHEMA.name, STOCK_LOW, &event).await?;
    tracing::debug!(dispenser = %dispenser.code, pocket = %pocket.pocket, quantity, minimum = pocket.minimum, "pocket below its minimum");
    Ok(())
}
