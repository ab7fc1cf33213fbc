//! Payments' settings, checked once at start: the merchant that receives the
//! Pix, the payment lifetime, and the provider they select.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::brcode;
use crate::provider::Provider;
use crate::provider::local::Local;
use crate::provider::mercadopago::{MercadoPago, MercadoPagoConfig};
use malha_kit::config::PaymentsConfig;

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
        config.mercadopago_access_token = Some(malha_kit::config::Secret::new("TEST-1"));
        assert_eq!(
            Settings::from_config(&config).unwrap().provider.name(),
            "mercadopago"
        );
        config.payment_provider = "paypal".into();
        assert!(Settings::from_config(&config).is_err());
    }
}
