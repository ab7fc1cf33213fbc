//! The one way a payment's status changes: the new status, its
//! transaction-log entry and its event (through the outbox) commit together.

use crate::domain::Status;
use crate::domain::ledger::Kind;
use crate::store::ledger::{self, Append};
use crate::store::payments::{self, PaymentRow};
use crate::{SCHEMA, SUBJECT_APPROVED, SUBJECT_EXPIRED, SUBJECT_REFUNDED, SUBJECT_REJECTED};
use malha_api::malha::payments::v1::{
    PaymentApproved, PaymentExpired, PaymentRefunded, PaymentRejected,
};
use malha_kit::stored::StoredName;
use malha_kit::{ServiceError, ServiceResult, events, time};

/// A change of status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Approve,
    Reject(String),
    Expire,
    Refund(String),
}

impl Change {
    fn target(&self) -> Status {
        match self {
            Self::Approve => Status::Approved,
            Self::Reject(_) => Status::Rejected,
            Self::Expire => Status::Expired,
            Self::Refund(_) => Status::Refunded,
        }
    }

    /// What the transaction log records for it.
    fn logged_as(&self) -> Kind {
        match self {
            Self::Approve => Kind::Approved,
            Self::Reject(_) => Kind::Rejected,
            Self::Expire => Kind::Expired,
            Self::Refund(_) => Kind::Refunded,
        }
    }
}

/// Applies `change` to the locked `payment` in `tx`, logs it with `actor` and
/// `detail`, and publishes its event. FAILED_PRECONDITION when the status
/// machine does not allow it.
pub async fn settle(
    tx: &mut ledger::Tx,
    payment: &PaymentRow,
    change: Change,
    actor: &str,
    detail: &str,
) -> ServiceResult<PaymentRow> {
    let current = Status::from_stored(&payment.status)?;
    let next = change.target();
    if !current.can_become(next) {
        return Err(ServiceError::precondition(
            "ILLEGAL_TRANSITION",
            format!(
                "a {} payment cannot become {}",
                current.as_str(),
                next.as_str()
            ),
        ));
    }
    let updated_at = payments::set_status(tx, payment.id, next.as_str()).await?;
    tx.log(&Append {
        payment_id: payment.id,
        kind: change.logged_as(),
        amount_centavos: payment.amount_centavos,
        actor,
        detail,
    });
    let (payment_id, order_id) = (payment.id.to_string(), payment.order_id.to_string());
    match &change {
        Change::Approve => {
            let event = PaymentApproved {
                payment_id,
                order_id,
                amount_centavos: payment.amount_centavos,
                provider: payment.provider.clone(),
                approve_time: time::to_proto(updated_at),
            };
            events::publish(tx, SCHEMA.name, SUBJECT_APPROVED, &event).await?;
        }
        Change::Reject(reason) => {
            let event = PaymentRejected {
                payment_id,
                order_id,
                amount_centavos: payment.amount_centavos,
                reason: reason.clone(),
            };
            events::publish(tx, SCHEMA.name, SUBJECT_REJECTED, &event).await?;
        }
        Change::Expire => {
            let event = PaymentExpired {
                payment_id,
                order_id,
                amount_centavos: payment.amount_centavos,
                expire_time: time::to_proto(payment.expires_at),
            };
            events::publish(tx, SCHEMA.name, SUBJECT_EXPIRED, &event).await?;
        }
        Change::Refund(reason) => {
            let event = PaymentRefunded {
                payment_id,
                order_id,
                amount_centavos: payment.amount_centavos,
                reason: reason.clone(),
                refund_time: time::to_proto(updated_at),
            };
            events::publish(tx, SCHEMA.name, SUBJECT_REFUNDED, &event).await?;
        }
    }
    tracing::info!(payment = %payment.id, order = %payment.order_id, from = current.as_str(), to = next.as_str(), actor, "payment settled");
    Ok(PaymentRow {
        status: next.as_str().to_owned(),
        updated_at,
        ..payment.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_logged_under_the_name_of_the_status_it_reaches() {
        // The log has always stored the reached status's name; keep it so.
        for change in [
            Change::Approve,
            Change::Reject(String::new()),
            Change::Expire,
            Change::Refund(String::new()),
        ] {
            assert_eq!(change.logged_as().as_str(), change.target().as_str());
        }
    }
}
