//! Rows ↔ proto messages.

use crate::domain::Status;
use crate::domain::ledger::Kind;
use crate::qr;
use crate::store::ledger::TransactionRow;
use crate::store::payments::PaymentRow;
use malha_api::malha::payments::v1::{Payment, PaymentStatus, Transaction, TransactionKind};
use malha_kit::ServiceResult;
use malha_kit::stored::{StoredName, UnknownStored, readable_rows};
use malha_kit::time::to_proto;

/// The proto status of a stored one; an error for one this build does not
/// know.
pub(super) fn status(stored: &str) -> Result<PaymentStatus, UnknownStored> {
    Ok(match Status::from_stored(stored)? {
        Status::Pending => PaymentStatus::Pending,
        Status::Approved => PaymentStatus::Approved,
        Status::Rejected => PaymentStatus::Rejected,
        Status::Expired => PaymentStatus::Expired,
        Status::Refunded => PaymentStatus::Refunded,
    })
}

/// The proto kind of a stored one; an error for one this build does not
/// know (never read as UNSPECIFIED).
fn kind(stored: &str) -> Result<TransactionKind, UnknownStored> {
    Ok(match Kind::from_stored(stored)? {
        Kind::Created => TransactionKind::Created,
        Kind::Notified => TransactionKind::Notified,
        Kind::Approved => TransactionKind::Approved,
        Kind::Rejected => TransactionKind::Rejected,
        Kind::Expired => TransactionKind::Expired,
        Kind::Refunded => TransactionKind::Refunded,
    })
}

/// The payment without QR images (lists).
pub(super) fn payment(row: PaymentRow) -> Result<Payment, UnknownStored> {
    Ok(Payment {
        id: row.id.to_string(),
        order_id: row.order_id.to_string(),
        amount_centavos: row.amount_centavos,
        description: row.description,
        status: status(&row.status)? as i32,
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
    })
}

/// A page of payments; a row that cannot be read is logged and left out.
pub(super) fn payments(rows: Vec<PaymentRow>) -> Vec<Payment> {
    readable_rows("payment", rows, |r| r.id.to_string(), payment)
}

/// The payment with its QR images, rendered off the runtime.
pub(super) async fn payment_with_qr(row: PaymentRow) -> ServiceResult<Payment> {
    let images = qr::render(row.pix_code.clone()).await?;
    Ok(Payment {
        qr_png: images.png,
        qr_svg: images.svg,
        ..payment(row)?
    })
}

pub(super) fn transaction(row: TransactionRow) -> Result<Transaction, UnknownStored> {
    Ok(Transaction {
        sequence: row.sequence,
        id: row.id.to_string(),
        payment_id: row.payment_id.to_string(),
        kind: kind(&row.kind)? as i32,
        amount_centavos: row.amount_centavos,
        actor: row.actor,
        detail: row.detail,
        create_time: to_proto(row.created_at),
        previous_hash: hex::encode(row.previous_hash),
        hash: hex::encode(row.hash),
    })
}

/// A page of the log; an entry that cannot be read is logged and left out
/// (VerifyLedger still checks it).
pub(super) fn transactions(rows: Vec<TransactionRow>) -> Vec<Transaction> {
    readable_rows("transaction", rows, |r| r.sequence.to_string(), transaction)
}
