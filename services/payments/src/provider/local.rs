//! The `local` provider: the Pix BR Code is built here from the merchant's
//! key, name and city, so no external account is needed. Confirmation comes
//! from the payer's bank (or a simulator) as a notification signed with the
//! webhook secret; since there is no provider API to ask, the notification
//! states the outcome in `action` (`payment.approved` / `payment.rejected`)
//! and the signature covers it (`action:<action>;` after the manifest).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Charge, Created, Notification, Outcome, Provider, ProviderError, verify_signed};
use crate::brcode::{self, BrCode};
use crate::domain::signature::Refusal;
use crate::settings::Merchant;
use malha_kit::config::Secret;

/// The local provider.
pub struct Local {
    merchant: Merchant,
    webhook_secret: Option<Secret>,
}

/// The `action` that approves a payment.
pub const APPROVED: &str = "payment.approved";
/// The `action` that rejects a payment.
pub const REJECTED: &str = "payment.rejected";

/// A bank's confirmation as the local provider expects it: the request and
/// the two headers it must carry (`x-signature`, `x-request-id`). For
/// whoever plays the bank: the benchmarks, the chaos load, a simulator.
pub struct SignedNotification {
    pub request: malha_api::malha::payments::v1::HandleNotificationRequest,
    pub signature: String,
    /// The bank's delivery id: a retry with the same one is a duplicate.
    pub request_id: String,
}

/// A confirmation that `action` ([`APPROVED`] or [`REJECTED`]) happened to
/// the charge `txid`, signed with `secret` at the current time.
pub fn signed_notification(secret: &[u8], txid: &str, action: &str) -> SignedNotification {
    use crate::domain::signature;
    use malha_api::malha::payments::v1::{HandleNotificationRequest, NotificationData};
    let request_id = Uuid::new_v4().to_string();
    let now = Utc::now();
    let ts = now.timestamp().to_string();
    let manifest = signature::manifest(txid, &request_id, &ts, &Local::signed_extra(action));
    SignedNotification {
        request: HandleNotificationRequest {
            notification: Some(malha_api::malha::payments::v1::Notification {
                r#type: "payment".into(),
                action: action.into(),
                data: Some(NotificationData { id: txid.into() }),
                date_created: now.to_rfc3339(),
                ..Default::default()
            }),
            ..Default::default()
        },
        signature: signature::header(secret, &ts, &manifest),
        request_id,
    }
}

impl Local {
    /// A provider charging to `merchant`'s key.
    pub fn new(merchant: Merchant, webhook_secret: Option<Secret>) -> Self {
        Self {
            merchant,
            webhook_secret,
        }
    }

    /// The part of the signed manifest that covers the stated outcome.
    pub fn signed_extra(action: &str) -> String {
        format!("action:{action};")
    }
}

#[async_trait::async_trait]
impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn create(&self, charge: &Charge) -> Result<Created, ProviderError> {
        let code = BrCode {
            description: Some(brcode::ascii_fold(
                &charge.description,
                self.merchant.description_room(),
            ))
            .filter(|d| !d.is_empty()),
            ..BrCode::pix(
                &self.merchant.key,
                &self.merchant.name,
                &self.merchant.city,
                charge.amount_centavos,
                &charge.txid,
            )
        };
        let pix_code = code
            .encode()
            .map_err(|e| ProviderError::Invalid(e.to_string()))?;
        Ok(Created {
            provider_payment_id: charge.txid.clone(),
            pix_code,
        })
    }

    fn verify(&self, notification: &Notification, now: DateTime<Utc>) -> Result<(), Refusal> {
        verify_signed(
            self.webhook_secret.as_ref(),
            notification,
            &Self::signed_extra(&notification.action),
            now,
        )
    }

    async fn outcome(&self, notification: &Notification) -> Result<Outcome, ProviderError> {
        Ok(match notification.action.as_str() {
            APPROVED => Outcome::Approved,
            REJECTED => Outcome::Rejected("refused by the payer's bank".into()),
            _ => Outcome::Pending,
        })
    }

    async fn refund(
        &self,
        _provider_payment_id: &str,
        _payment_id: Uuid,
    ) -> Result<(), ProviderError> {
        // Nothing to call: the merchant returns the Pix from its own account.
        Ok(())
    }
}
