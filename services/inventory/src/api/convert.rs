//! Rows → proto messages.

use crate::domain::Kind;
use crate::store::{MovementRow, ProductRow, ShortageRow};
use malha_api::malha::inventory::v1::{Movement, MovementKind, Product, Shortage};
use malha_kit::stored::{StoredName, UnknownStored, readable_rows};
use malha_kit::time::to_proto;

pub(super) fn kind(kind: MovementKind) -> Option<Kind> {
    Some(match kind {
        MovementKind::Receipt => Kind::Receipt,
        MovementKind::Consumption => Kind::Consumption,
        MovementKind::Adjustment => Kind::Adjustment,
        MovementKind::Unspecified => return None,
    })
}

pub(super) fn product(row: ProductRow) -> Product {
    Product {
        id: row.id.to_string(),
        sku: row.sku,
        name: row.name,
        unit: row.unit,
        quantity_on_hand: row.quantity_on_hand,
        minimum_level: row.minimum_level,
        supplier_id: row.supplier_id.map(|s| s.to_string()).unwrap_or_default(),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

/// The movement as proto; an error for a stored kind this build does not
/// know (never read as UNSPECIFIED).
pub(super) fn movement(row: MovementRow) -> Result<Movement, UnknownStored> {
    let kind = match Kind::from_stored(&row.kind)? {
        Kind::Receipt => MovementKind::Receipt,
        Kind::Consumption => MovementKind::Consumption,
        Kind::Adjustment => MovementKind::Adjustment,
    };
    Ok(Movement {
        id: row.id.to_string(),
        product_id: row.product_id.to_string(),
        kind: kind as i32,
        delta: row.delta,
        quantity_after: row.quantity_after,
        reason: row.reason,
        source: row.source,
        create_time: to_proto(row.created_at),
    })
}

/// A page of movements; a row that cannot be read is logged and left out.
pub(super) fn movements(rows: Vec<MovementRow>) -> Vec<Movement> {
    readable_rows("movement", rows, |r| r.id.to_string(), movement)
}

pub(super) fn shortage(row: ShortageRow) -> Shortage {
    Shortage {
        id: row.id.to_string(),
        product_id: row.product_id.to_string(),
        product_name: row.product_name,
        project_id: row.project_id.map(|p| p.to_string()).unwrap_or_default(),
        requested: row.requested,
        available: row.available,
        create_time: to_proto(row.created_at),
    }
}
