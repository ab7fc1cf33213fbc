//! Changing stock: one set of rules for every path (manual movements and
//! project consumption), so the never-negative and low-stock rules hold
//! everywhere. Changes are gathered in memory ([`Changes`]) and written
//! together: one statement for every movement and product, one for every
//! event, however many projects a batch of events consumes.

use malha_kit::events::{self, Envelope};
use sqlx::PgConnection;

use crate::domain::{self, Applied, Kind};
use crate::store::{self, MovementRow, NewMovement, ProductRow};
use crate::{SCHEMA, SUBJECT_STOCK_LOW};
use malha_api::malha::inventory::v1::StockLow;
use malha_kit::ServiceResult;

/// What a change did.
pub enum Change {
    /// Applied: the movement and the product after it.
    Done(Box<(MovementRow, ProductRow)>),
    /// Refused: not enough on hand.
    Insufficient { available: i64 },
}

/// Stock changes and the events they announce, not yet written.
#[derive(Default)]
pub struct Changes {
    movements: Vec<NewMovement>,
    events: Vec<Envelope>,
}

impl Changes {
    /// Applies `delta` to `product` (locked by the caller's transaction),
    /// never below zero; a crossing of the minimum level announces
    /// `StockLow`. On refusal, what was on hand, and nothing changes.
    pub fn apply(
        &mut self,
        product: &mut ProductRow,
        kind: Kind,
        delta: i64,
        reason: &str,
        source: &str,
    ) -> Result<(), i64> {
        let (after, crossed) =
            match domain::apply(product.quantity_on_hand, delta, product.minimum_level) {
                Applied::Insufficient { available } => return Err(available),
                Applied::Ok {
                    after,
                    crossed_minimum,
                } => (after, crossed_minimum),
            };
        self.movements.push(NewMovement {
            product: product.id,
            kind: kind.as_str(),
            delta,
            after,
            reason: reason.to_owned(),
            source: source.to_owned(),
        });
        product.quantity_on_hand = after;
        if crossed {
            let event = StockLow {
                product_id: product.id.to_string(),
                sku: product.sku.clone(),
                product_name: product.name.clone(),
                quantity_on_hand: after,
                minimum_level: product.minimum_level,
            };
            self.events
                .push(events::seal(SCHEMA.name, SUBJECT_STOCK_LOW, &event));
            tracing::info!(product = %product.id, after, minimum = product.minimum_level, "stock low");
        }
        Ok(())
    }

    /// Another event to publish with the changes.
    pub fn announce(&mut self, event: Envelope) {
        self.events.push(event);
    }

    /// Writes every movement (and the products' quantities) and every event
    /// in `tx`; the stored movements, in order.
    pub async fn write(self, tx: &mut PgConnection) -> ServiceResult<Vec<MovementRow>> {
        let movements = store::record_movements(tx, &self.movements).await?;
        events::publish_sealed(tx, &self.events).await?;
        Ok(movements)
    }
}

/// Applies `delta` to the locked `product` in `tx` and writes it.
pub async fn change(
    tx: &mut PgConnection,
    mut product: ProductRow,
    kind: Kind,
    delta: i64,
    reason: &str,
    source: &str,
) -> ServiceResult<Change> {
    let mut changes = Changes::default();
    if let Err(available) = changes.apply(&mut product, kind, delta, reason, source) {
        return Ok(Change::Insufficient { available });
    }
    let movement = changes
        .write(tx)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("a recorded movement was not returned"))?;
    Ok(Change::Done(Box::new((movement, product))))
}
