//! Rows ↔ proto messages.

use crate::domain::Status;
use crate::qr;
use crate::store::ledger::TransactionRow;
use crate::store::payments::PaymentRow;
use malha_api::malha::payments::v1::{Payment, PaymentStatus, Transaction, TransactionKind};
use malha_kit::ServiceResult;
use malha_kit::time::to_proto;

pub(super) fn status(stored: &str) -> PaymentStatus {
    match Status::parse(stored) {
        Some(Status::Pending) => PaymentStatus::Pending,
        Some(Status::Approved) => PaymentStatus::Approved,
        Some(Status::Rejected) => PaymentStatus::Rejected,
        Some(Status::Expired) => PaymentStatus::Expired,
        Some(Status::Refunded) => PaymentStatus::Refunded,
        None => PaymentStatus::Unspecified,
    }
}

fn kind(stored: &str) -> TransactionKind {
    match stored {
        "created" => TransactionKind::Created,
        "notified" => TransactionKind::Notified,
        "approved" => TransactionKind::Approved,
        "rejected" => TransactionKind::Rejected,
        "expired" => TransactionKind::Expired,
        "refunded" => TransactionKind::Refunded,
        _ => TransactionKind::Unspecified,
    }
}

/// The payment without QR images (lists).
pub(super) fn payment(row: PaymentRow) -> Payment {
    Payment {
        id: row.id.to_string(),
        order_id: row.order_id.to_string(),
        amount_centavos: row.amount_centavos,
        description: row.description,
        status: status(&row.status) as i32,
        provider: row.provider,
        provider_payment_id: row.provider_payment_id,
        txid: row.txid,
        pix_code: row.pix_code,
        qr_png: Vec::new(),
        qr_svg: String::new(),
        payer_id: row.payer_id,
        expire_time: to_proto(row.expires_at),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    }
}

/// The payment with its QR images, rendered off the runtime.
pub(super) async fn payment_with_qr(row: PaymentRow) -> ServiceResult<Payment> {
    let images = qr::render(row.pix_code.clone()).await?;
    Ok(Payment {
        qr_png: images.png,
        qr_svg: images.svg,
        ..payment(row)
    })
}

pub(super) fn transaction(row: TransactionRow) -> Transaction {
    Transaction {
        sequence: row.sequence,
        id: row.id.to_string(),
        payment_id: row.payment_id.to_string(),
        kind: kind(&row.kind) as i32,
        amount_centavos: row.amount_centavos,
        actor: row.actor,
        detail: row.detail,
        create_time: to_proto(row.created_at),
        previous_hash: hex::encode(row.previous_hash),
        hash: hex::encode(row.hash),
    }
}
