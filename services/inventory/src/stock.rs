//! Changing stock: one function for every path (manual movements and project
//! consumption), so the never-negative and low-stock rules hold everywhere.

use sqlx::PgConnection;

use crate::domain::{self, Applied, Kind};
use crate::store::{self, MovementRow, ProductRow};
use crate::{SCHEMA, SUBJECT_STOCK_LOW};
use malha_api::malha::inventory::v1::StockLow;
use malha_kit::{ServiceResult, events};

/// What a change did.
pub enum Change {
    /// Applied: the movement and the product after it.
    Done(Box<(MovementRow, ProductRow)>),
    /// Refused: not enough on hand.
    Insufficient { available: i64 },
}

/// Applies `delta` to the locked `product` in `tx`: never below zero; a
/// crossing of the minimum level publishes `StockLow` through the outbox.
pub async fn change(
    tx: &mut PgConnection,
    mut product: ProductRow,
    kind: Kind,
    delta: i64,
    reason: &str,
    source: &str,
) -> ServiceResult<Change> {
    let (after, crossed) =
        match domain::apply(product.quantity_on_hand, delta, product.minimum_level) {
            Applied::Insufficient { available } => return Ok(Change::Insufficient { available }),
            Applied::Ok {
                after,
                crossed_minimum,
            } => (after, crossed_minimum),
        };
    let movement = store::record_movement(
        tx,
        &store::NewMovement {
            product: product.id,
            kind: kind.as_str(),
            delta,
            after,
            reason,
            source,
        },
    )
    .await?;
    product.quantity_on_hand = after;
    if crossed {
        let event = StockLow {
            product_id: product.id.to_string(),
            sku: product.sku.clone(),
            product_name: product.name.clone(),
            quantity_on_hand: after,
            minimum_level: product.minimum_level,
        };
        events::publish(tx, SCHEMA.name, SUBJECT_STOCK_LOW, &event).await?;
        tracing::info!(product = %product.id, after, minimum = product.minimum_level, "stock low");
    }
    Ok(Change::Done(Box::new((movement, product))))
}
