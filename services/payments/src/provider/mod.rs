//! Payment providers behind one interface, selected by configuration:
//! [`local::Local`] (the BR Code is generated here; no external account) and
//! [`mercadopago::MercadoPago`] (MercadoPago's REST API). Both verify webhook
//! notifications with the same `x-signature` scheme before they count, and
//! both pass the same conformance suite (`conformance`, tests only).

pub mod local;
pub mod mercadopago;

#[cfg(test)]
mod conformance;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::signature::{self, Refusal};
use malha_kit::config::Secret;

/// What to charge.
#[derive(Debug, Clone)]
pub struct Charge {
    pub payment_id: Uuid,
    pub txid: String,
    pub amount_centavos: i64,
    pub description: String,
    pub expires_at: DateTime<Utc>,
}

/// What the provider made of a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The provider's id of the payment (what notifications name in `data.id`).
    pub provider_payment_id: String,
    /// The Pix code ("copia e cola").
    pub pix_code: String,
}

/// A webhook notification as received.
#[derive(Debug, Clone, Default)]
pub struct Notification {
    /// `data.id`: the provider's payment id.
    pub data_id: String,
    /// e.g. `payment.updated`.
    pub action: String,
    /// The `x-request-id` header: unique per notification.
    pub request_id: String,
    /// The `x-signature` header.
    pub signature: String,
}

/// What the provider says about a payment now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Rejected(String),
    /// Nothing final yet.
    Pending,
}

/// A provider that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Unreachable, timed out or answered 5xx: worth retrying.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// It answered something unusable.
    #[error("the payment provider answered unexpectedly: {0}")]
    Invalid(String),
}

impl From<ProviderError> for malha_kit::ServiceError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::Unavailable(message) => Self::Unavailable(message),
            ProviderError::Invalid(message) => Self::Internal(anyhow::anyhow!(message)),
        }
    }
}

/// A payment provider.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// `local` or `mercadopago`.
    fn name(&self) -> &'static str;

    /// Creates the charge at the provider and returns its Pix code.
    async fn create(&self, charge: &Charge) -> Result<Created, ProviderError>;

    /// Checks that a notification was signed with the webhook secret, recently.
    fn verify(&self, notification: &Notification, now: DateTime<Utc>) -> Result<(), Refusal>;

    /// What the provider now says about the payment a verified notification names.
    async fn outcome(&self, notification: &Notification) -> Result<Outcome, ProviderError>;

    /// Returns the money of an approved payment.
    async fn refund(
        &self,
        provider_payment_id: &str,
        payment_id: Uuid,
    ) -> Result<(), ProviderError>;
}

/// Verifies `notification`'s `x-signature` over the manifest (plus `extra`).
pub(crate) fn verify_signed(
    secret: Option<&Secret>,
    notification: &Notification,
    extra: &str,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let secret = secret.ok_or(Refusal::NotConfigured)?;
    if notification.signature.is_empty()
        || notification.request_id.is_empty()
        || notification.data_id.is_empty()
    {
        return Err(Refusal::Missing);
    }
    let header = signature::parse_header(&notification.signature)?;
    let manifest = signature::manifest(
        &notification.data_id,
        &notification.request_id,
        &header.ts,
        extra,
    );
    signature::verify(secret.expose().as_bytes(), &header, &manifest, now)
}
