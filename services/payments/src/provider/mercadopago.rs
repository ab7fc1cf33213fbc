//! The `mercadopago` provider: a Pix payment through MercadoPago's REST API
//! (`POST /v1/payments` with `payment_method_id: "pix"`, a bearer access
//! token and `X-Idempotency-Key`), whose answer carries the Pix code in
//! `point_of_interaction.transaction_data.qr_code`. Notifications are checked
//! with MercadoPago's `x-signature` scheme, then the payment is read back
//! (`GET /v1/payments/{id}`) to learn its status: the notification body is
//! never trusted for it. The base URL is configurable (tests use a fake).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Charge, Created, Notification, Outcome, Provider, ProviderError, verify_signed};
use crate::brcode::BrCode;
use crate::domain::signature::Refusal;
use malha_kit::config::Secret;

/// How the provider reaches MercadoPago.
#[derive(Debug, Clone)]
pub struct MercadoPagoConfig {
    /// e.g. `https://api.mercadopago.com`.
    pub base_url: String,
    pub access_token: Secret,
    pub webhook_secret: Option<Secret>,
    /// Sent as `payer.email` (MercadoPago requires one; customers may be anonymous).
    pub payer_email: String,
    /// Where MercadoPago should post notifications, if set.
    pub notification_url: Option<String>,
}

/// The MercadoPago provider.
pub struct MercadoPago {
    config: MercadoPagoConfig,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct PaymentBody {
    id: serde_json::Value,
    #[serde(default)]
    status: String,
    #[serde(default)]
    status_detail: String,
    point_of_interaction: Option<PointOfInteraction>,
}

#[derive(Debug, Deserialize)]
struct PointOfInteraction {
    transaction_data: Option<TransactionData>,
}

#[derive(Debug, Deserialize)]
struct TransactionData {
    qr_code: Option<String>,
}

impl MercadoPago {
    /// A provider talking to `config.base_url`.
    pub fn new(config: MercadoPagoConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        Ok(Self { config, http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Sends `request` with the access token; the body of a 2xx answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<bytes::Bytes, ProviderError> {
        let response = request
            .bearer_auth(self.config.access_token.expose())
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::Unavailable(format!(
                "MercadoPago answered {status}"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(ProviderError::Invalid(format!(
                "MercadoPago answered {status}: {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        Ok(body)
    }

    /// Sends `request` and reads a payment from the answer.
    async fn payment(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<PaymentBody, ProviderError> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| ProviderError::Invalid(format!("payment body: {e}")))
    }

    /// MercadoPago payment ids are numbers; refuse anything else in a URL.
    fn checked_id(id: &str) -> Result<&str, ProviderError> {
        if !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(id)
        } else {
            Err(ProviderError::Invalid(format!(
                "not a MercadoPago payment id: {id:?}"
            )))
        }
    }
}

/// A JSON id (number or string) as text.
fn id_text(id: &serde_json::Value) -> Option<String> {
    match id {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Provider for MercadoPago {
    fn name(&self) -> &'static str {
        "mercadopago"
    }

    async fn create(&self, charge: &Charge) -> Result<Created, ProviderError> {
        #[allow(clippy::cast_precision_loss)] // centavos of one payment fit an f64 exactly
        let amount = charge.amount_centavos as f64 / 100.0;
        let mut body = json!({
            "transaction_amount": amount,
            "description": charge.description,
            "payment_method_id": "pix",
            "external_reference": charge.payment_id.to_string(),
            "date_of_expiration": charge.expires_at.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
            "payer": { "email": self.config.payer_email },
        });
        if let Some(url) = &self.config.notification_url {
            body["notification_url"] = json!(url);
        }
        let request = self
            .http
            .post(self.url("/v1/payments"))
            .header("X-Idempotency-Key", charge.payment_id.to_string())
            .json(&body);
        let payment = self.payment(request).await?;
        let id = id_text(&payment.id)
            .ok_or_else(|| ProviderError::Invalid("payment without id".into()))?;
        let pix_code = payment
            .point_of_interaction
            .and_then(|p| p.transaction_data)
            .and_then(|t| t.qr_code)
            .ok_or_else(|| {
                ProviderError::Invalid(
                    "payment without point_of_interaction.transaction_data.qr_code".into(),
                )
            })?;
        // Never hand a customer a code that is not a valid Pix BR Code.
        BrCode::parse(&pix_code)
            .map_err(|e| ProviderError::Invalid(format!("qr_code is not a BR Code: {e}")))?;
        Ok(Created {
            provider_payment_id: id,
            pix_code,
        })
    }

    fn verify(&self, notification: &Notification, now: DateTime<Utc>) -> Result<(), Refusal> {
        verify_signed(self.config.webhook_secret.as_ref(), notification, "", now)
    }

    async fn outcome(&self, notification: &Notification) -> Result<Outcome, ProviderError> {
        let id = Self::checked_id(&notification.data_id)?;
        let payment = self
            .payment(self.http.get(self.url(&format!("/v1/payments/{id}"))))
            .await?;
        Ok(match payment.status.as_str() {
            "approved" => Outcome::Approved,
            "rejected" | "cancelled" => Outcome::Rejected(if payment.status_detail.is_empty() {
                payment.status
            } else {
                format!("{}: {}", payment.status, payment.status_detail)
            }),
            _ => Outcome::Pending,
        })
    }

    async fn refund(
        &self,
        provider_payment_id: &str,
        payment_id: Uuid,
    ) -> Result<(), ProviderError> {
        let id = Self::checked_id(provider_payment_id)?;
        let request = self
            .http
            .post(self.url(&format!("/v1/payments/{id}/refunds")))
            .header("X-Idempotency-Key", format!("refund-{payment_id}"))
            .json(&json!({}));
        // The refund's own body has another shape: success is what matters.
        self.send(request).await.map(drop)
    }
}
