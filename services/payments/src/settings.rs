//! Payments' settings, checked once at start: the merchant that receives the
//! Pix, the payment lifetime, and the provider they select.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::brcode;
use crate::provider::Provider;
use crate::provider::local::Local;
use crate::provider::mercadopago::{MercadoPago, MercadoPagoConfig};
use malha_kit::config::Secret;

/// Who receives the money: what fields 26-01, 59 and 60 of the BR Code carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    /// The Pix key (at most 77 characters).
    pub key: String,
    /// At most 25 characters of printable ASCII.
    pub name: String,
    /// At most 15 characters of printable ASCII.
    pub city: String,
}

impl Merchant {
    /// Checks the lengths the BR Code allows; folds accents away.
    pub fn new(key: &str, name: &str, city: &str) -> anyhow::Result<Self> {
        let key = key.trim();
        ensure!(
            !key.is_empty() && key.len() <= 77 && key.bytes().all(|b| (0x21..0x7F).contains(&b)),
            "MALHA_PIX_KEY must be a Pix key of 1 to 77 printable characters"
        );
        let name = brcode::ascii_fold(name, 25);
        let city = brcode::ascii_fold(city, 15);
        ensure!(!name.is_empty(), "MALHA_PIX_MERCHANT_NAME is required");
        ensure!(!city.is_empty(), "MALHA_PIX_MERCHANT_CITY is required");
        Ok(Self {
            key: key.to_owned(),
            name,
            city,
        })
    }

    /// Characters left for a description in field 26 (at most 99 in all).
    pub fn description_room(&self) -> usize {
        // 26 = 00 GUI (4 + 14) + 01 key (4 + len) + 02 description (4 + len).
        99usize.saturating_sub(18 + 4 + self.key.len() + 4)
    }
}

/// Payments' flags and environment: the merchant, the provider and its
/// secrets (`malha serve --help` lists them under "payments").
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsConfig {
    /// `local` (the BR Code is generated here; no external account) or `mercadopago`.
    #[arg(long, env = "MALHA_PAYMENT_PROVIDER", default_value = "local")]
    pub payment_provider: String,

    /// The merchant's Pix key (e-mail, phone, CPF/CNPJ or random key).
    #[arg(
        long,
        env = "MALHA_PIX_KEY",
        default_value = "123e4567-e12b-12d1-a456-426655440000"
    )]
    pub pix_key: String,

    /// Merchant name in the BR Code (at most 25 characters).
    #[arg(
        long,
        env = "MALHA_PIX_MERCHANT_NAME",
        default_value = "Malha Lanchonete"
    )]
    pub pix_merchant_name: String,

    /// Merchant city in the BR Code (at most 15 characters).
    #[arg(long, env = "MALHA_PIX_MERCHANT_CITY", default_value = "SAO PAULO")]
    pub pix_merchant_city: String,

    /// Seconds a payment may stay pending before it expires.
    #[arg(long, env = "MALHA_PAYMENT_EXPIRY_SECONDS", default_value_t = 900)]
    pub payment_expiry_seconds: u64,

    /// Milliseconds between sweeps for expired payments.
    #[arg(long, env = "MALHA_PAYMENT_EXPIRY_SWEEP_MS", default_value_t = 5000)]
    pub payment_expiry_sweep_ms: u64,

    /// Secret that signs provider notifications (`x-signature`); without it
    /// every notification is refused.
    #[arg(long, env = "MALHA_PAYMENTS_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// MercadoPago access token (provider `mercadopago`).
    #[arg(long, env = "MALHA_MERCADOPAGO_ACCESS_TOKEN", hide_env_values = true)]
    pub mercadopago_access_token: Option<Secret>,

    /// MercadoPago API base URL.
    #[arg(
        long,
        env = "MALHA_MERCADOPAGO_BASE_URL",
        default_value = "https://api.mercadopago.com"
    )]
    pub mercadopago_base_url: String,

    /// Payer e-mail sent to MercadoPago (customers may be anonymous).
    #[arg(
        long,
        env = "MALHA_MERCADOPAGO_PAYER_EMAIL",
        default_value = "cliente@malha.local"
    )]
    pub mercadopago_payer_email: String,

    /// Public URL of the webhook MercadoPago should call (optional).
    #[arg(long, env = "MALHA_MERCADOPAGO_NOTIFICATION_URL")]
    pub mercadopago_notification_url: Option<String>,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            payment_provider: "local".into(),
            pix_key: "123e4567-e12b-12d1-a456-426655440000".into(),
            pix_merchant_name: "Malha Lanchonete".into(),
            pix_merchant_city: "SAO PAULO".into(),
            payment_expiry_seconds: 900,
            payment_expiry_sweep_ms: 5000,
            webhook_secret: None,
            mercadopago_access_token: None,
            mercadopago_base_url: "https://api.mercadopago.com".into(),
            mercadopago_payer_email: "cliente@malha.local".into(),
            mercadopago_notification_url: None,
        }
    }
}

/// Settings derived from [`PaymentsConfig`].
#[derive(Clone)]
pub struct Settings {
    /// How long a payment may stay pending.
    pub expiry: Duration,
    /// How often expired payments are swept.
    pub sweep_every: Duration,
    /// The configured provider.
    pub provider: Arc<dyn Provider>,
}

impl Settings {
    /// Checks `config` and builds its provider.
    pub fn from_config(config: &PaymentsConfig) -> anyhow::Result<Self> {
        ensure!(
            config.payment_expiry_seconds > 0,
            "MALHA_PAYMENT_EXPIRY_SECONDS must be more than zero"
        );
        let merchant = Merchant::new(
            &config.pix_key,
            &config.pix_merchant_name,
            &config.pix_merchant_city,
        )?;
        let provider: Arc<dyn Provider> = match config.payment_provider.as_str() {
            "local" => Arc::new(Local::new(merchant, config.webhook_secret.clone())),
            "mercadopago" => Arc::new(MercadoPago::new(MercadoPagoConfig {
                base_url: config.mercadopago_base_url.clone(),
                access_token: config.mercadopago_access_token.clone().context(
                    "MALHA_MERCADOPAGO_ACCESS_TOKEN is required with the mercadopago provider",
                )?,
                webhook_secret: config.webhook_secret.clone(),
                payer_email: config.mercadopago_payer_email.clone(),
                notification_url: config.mercadopago_notification_url.clone(),
            })?),
            other => bail!("MALHA_PAYMENT_PROVIDER must be local or mercadopago, not {other:?}"),
        };
        if config.webhook_secret.is_none() {
            tracing::warn!(
                provider = provider.name(),
                "MALHA_PAYMENTS_WEBHOOK_SECRET is not set: every notification will be refused"
            );
        }
        Ok(Self {
            expiry: Duration::from_secs(config.payment_expiry_seconds),
            sweep_every: Duration::from_millis(config.payment_expiry_sweep_ms.max(100)),
            provider,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merchant_fields_fit_the_br_code() {
        let m = Merchant::new(
            " pix@malha.dev ",
            "Lanchonete São João da Barra",
            "São José dos Campos",
        )
        .unwrap();
        assert_eq!(m.key, "pix@malha.dev");
        assert_eq!(m.name, "Lanchonete Sao Joao da Ba");
        assert_eq!(m.city, "Sao Jose dos Ca");
        assert_eq!(m.description_room(), 99 - 18 - 4 - 13 - 4);
        assert!(Merchant::new("", "x", "y").is_err());
        assert!(Merchant::new("k", "", "y").is_err());
    }

    #[test]
    fn the_provider_is_chosen_by_name() {
        let mut config = PaymentsConfig::default();
        assert_eq!(
            Settings::from_config(&config).unwrap().provider.name(),
            "local"
        );
        config.payment_provider = "mercadopago".into();
        assert!(
            Settings::from_config(&config).is_err(),
            "an access token is required"
        );
        config.mercadopago_access_token = Some(Secret::new("TEST-1"));
        assert_eq!(
            Settings::from_config(&config).unwrap().provider.name(),
            "mercadopago"
        );
        config.payment_provider = "paypal".into();
        assert!(Settings::from_config(&config).is_err());
    }
}
