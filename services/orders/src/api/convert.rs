//! Rows ↔ proto messages.

use crate::domain::Status;
use crate::store::menu::{CategoryRow, ProductRow};
use crate::store::orders::{ItemRow, OrderRow, TransitionRow};
use malha_api::malha::orders::v1::{
    Category, Order, OrderItem, OrderStatus, Product, StatusChange,
};
use malha_kit::stored::{StoredName, UnknownStored};
use malha_kit::time::to_proto;

pub(super) fn status_proto(status: Status) -> OrderStatus {
    match status {
        Status::Received => OrderStatus::Received,
        Status::AwaitingPayment => OrderStatus::AwaitingPayment,
        Status::Paid => OrderStatus::Paid,
        Status::Preparing => OrderStatus::Preparing,
        Status::Ready => OrderStatus::Ready,
        Status::Delivered => OrderStatus::Delivered,
        Status::Cancelled => OrderStatus::Cancelled,
    }
}

pub(super) fn status_rule(status: OrderStatus) -> Option<Status> {
    Some(match status {
        OrderStatus::Received => Status::Received,
        OrderStatus::AwaitingPayment => Status::AwaitingPayment,
        OrderStatus::Paid => Status::Paid,
        OrderStatus::Preparing => Status::Preparing,
        OrderStatus::Ready => Status::Ready,
        OrderStatus::Delivered => Status::Delivered,
        OrderStatus::Cancelled => Status::Cancelled,
        OrderStatus::Unspecified => return None,
    })
}

/// The proto number of a stored status; an error for one this build does
/// not know.
fn stored(status: &str) -> Result<i32, UnknownStored> {
    Ok(status_proto(Status::from_stored(status)?) as i32)
}

pub(super) fn category(row: CategoryRow) -> Category {
    Category {
        id: row.id.to_string(),
        name: row.name,
        description: row.description,
        position: row.position,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn product(row: ProductRow) -> Product {
    Product {
        id: row.id.to_string(),
        category_id: row.category_id.to_string(),
        name: row.name,
        description: row.description,
        price_centavos: row.price_centavos,
        image_url: row.image_url,
        available: row.available,
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

pub(super) fn change(row: &TransitionRow) -> Result<StatusChange, UnknownStored> {
    Ok(StatusChange {
        sequence: row.sequence,
        from_status: match row.from_status.as_deref() {
            Some(from) => stored(from)?,
            None => OrderStatus::Unspecified as i32,
        },
        to_status: stored(&row.to_status)?,
        actor: row.actor.clone(),
        reason: row.reason.clone(),
        change_time: to_proto(row.created_at),
    })
}

/// The order with its lines and history picked out of `items` and `history`;
/// an error when a stored status is one this build does not know.
pub(super) fn order(
    row: OrderRow,
    items: &[ItemRow],
    history: &[TransitionRow],
) -> Result<Order, UnknownStored> {
    Ok(Order {
        items: items
            .iter()
            .filter(|i| i.order_id == row.id)
            .map(|i| OrderItem {
                product_id: i.product_id.to_string(),
                quantity: i.quantity,
                notes: i.notes.clone(),
                product_name: i.product_name.clone(),
                unit_price_centavos: i.unit_price_centavos,
                line_total_centavos: i.unit_price_centavos * i64::from(i.quantity),
            })
            .collect(),
        history: history
            .iter()
            .filter(|h| h.order_id == row.id)
            .map(change)
            .collect::<Result<_, _>>()?,
        id: row.id.to_string(),
        number: row.number,
        customer_id: row.customer_id,
        status: stored(&row.status)?,
        notes: row.notes,
        total_centavos: row.total_centavos,
        payment_id: row.payment_id.map(|p| p.to_string()).unwrap_or_default(),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    })
}
