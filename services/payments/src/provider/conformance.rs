//! One conformance suite, every provider: each test below runs against
//! `local` and against `mercadopago` (talking to a fake MercadoPago on
//! 127.0.0.1), through the [`Provider`] interface only.

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::local::Local;
use super::mercadopago::{MercadoPago, MercadoPagoConfig};
use super::{Charge, Created, Notification, Outcome, Provider};
use crate::brcode::BrCode;
use crate::domain::signature::{self, Refusal};
use crate::settings::Merchant;
use crate::testing::{ACCESS_TOKEN, FakeMercadoPago};
use malha_kit::config::Secret;

const SECRET: &str = "conformance-webhook-secret";

/// A provider and the payer's side of it: whatever settles a charge and
/// produces the notification the provider would receive.
struct Case {
    provider: Arc<dyn Provider>,
    fake: Option<FakeMercadoPago>,
}

impl Case {
    async fn local() -> Self {
        let merchant = Merchant::new("pix@malha.dev", "Malha Lanchonete", "SAO PAULO").unwrap();
        Self {
            provider: Arc::new(Local::new(merchant, Some(Secret::new(SECRET)))),
            fake: None,
        }
    }

    async fn mercadopago() -> Self {
        let fake = FakeMercadoPago::start().await.unwrap();
        let provider = MercadoPago::new(MercadoPagoConfig {
            base_url: fake.base_url.clone(),
            access_token: Secret::new(ACCESS_TOKEN),
            webhook_secret: Some(Secret::new(SECRET)),
            payer_email: "cliente@malha.local".into(),
            notification_url: None,
        })
        .unwrap();
        Self {
            provider: Arc::new(provider),
            fake: Some(fake),
        }
    }

    /// The payer pays (`approved`) or the bank refuses (`rejected`); returns
    /// the notification, signed with `secret` at `ts`.
    fn settle_with(&self, created: &Created, status: &str, secret: &str, ts: i64) -> Notification {
        let request_id = Uuid::new_v4().to_string();
        let ts = ts.to_string();
        let (action, extra) = match &self.fake {
            Some(fake) => {
                fake.set_status(&created.provider_payment_id, status);
                ("payment.updated".to_owned(), String::new())
            }
            None => {
                let action = format!("payment.{status}");
                let extra = Local::signed_extra(&action);
                (action, extra)
            }
        };
        let manifest = signature::manifest(&created.provider_payment_id, &request_id, &ts, &extra);
        Notification {
            data_id: created.provider_payment_id.clone(),
            action,
            request_id,
            signature: signature::header(secret.as_bytes(), &ts, &manifest),
        }
    }

    fn settle(&self, created: &Created, status: &str) -> Notification {
        self.settle_with(created, status, SECRET, Utc::now().timestamp())
    }

    async fn create(&self, amount_centavos: i64) -> Created {
        let payment_id = Uuid::now_v7();
        self.provider
            .create(&Charge {
                payment_id,
                txid: crate::domain::new_txid(),
                amount_centavos,
                description: "Pedido 7 — Malha Lanchonete".into(),
                expires_at: Utc::now() + chrono::Duration::minutes(15),
            })
            .await
            .expect("the provider creates the charge")
    }
}

async fn creates_a_valid_pix_code_for_the_amount(case: Case) {
    let created = case.create(2350).await;
    assert!(!created.provider_payment_id.is_empty());
    let code = BrCode::parse(&created.pix_code).expect("a valid BR Code with a matching CRC");
    assert_eq!(code.amount_centavos, Some(2350));
    assert_eq!(code.currency, "986");
    assert_eq!(code.country, "BR");
    assert!(code.key.is_some() || code.url.is_some());
}

async fn a_signed_approval_verifies_and_reports_approved(case: Case) {
    let created = case.create(1000).await;
    let notification = case.settle(&created, "approved");
    assert_eq!(case.provider.verify(&notification, Utc::now()), Ok(()));
    assert_eq!(
        case.provider.outcome(&notification).await.unwrap(),
        Outcome::Approved
    );
}

async fn a_signed_rejection_reports_rejected(case: Case) {
    let created = case.create(1000).await;
    let notification = case.settle(&created, "rejected");
    assert_eq!(case.provider.verify(&notification, Utc::now()), Ok(()));
    assert!(matches!(
        case.provider.outcome(&notification).await.unwrap(),
        Outcome::Rejected(_)
    ));
}

async fn a_wrong_secret_or_a_changed_field_is_refused(case: Case) {
    let created = case.create(1000).await;
    let now = Utc::now();
    let forged = case.settle_with(&created, "approved", "guessed-secret", now.timestamp());
    assert_eq!(case.provider.verify(&forged, now), Err(Refusal::Mismatch));

    let good = case.settle(&created, "approved");
    let other_payment = Notification {
        data_id: "999".into(),
        ..good.clone()
    };
    assert_eq!(
        case.provider.verify(&other_payment, now),
        Err(Refusal::Mismatch)
    );
    let other_request = Notification {
        request_id: "another".into(),
        ..good.clone()
    };
    assert_eq!(
        case.provider.verify(&other_request, now),
        Err(Refusal::Mismatch)
    );
    let unsigned = Notification {
        signature: String::new(),
        ..good.clone()
    };
    assert_eq!(case.provider.verify(&unsigned, now), Err(Refusal::Missing));
    let garbage = Notification {
        signature: "v1=nothex".into(),
        ..good
    };
    assert_eq!(case.provider.verify(&garbage, now), Err(Refusal::Malformed));
}

async fn an_old_notification_is_stale(case: Case) {
    let created = case.create(1000).await;
    let old = case.settle_with(&created, "approved", SECRET, Utc::now().timestamp() - 3600);
    assert_eq!(case.provider.verify(&old, Utc::now()), Err(Refusal::Stale));
}

async fn an_approved_payment_can_be_refunded(case: Case) {
    let created = case.create(1000).await;
    case.settle(&created, "approved");
    case.provider
        .refund(&created.provider_payment_id, Uuid::now_v7())
        .await
        .expect("refunded");
    if let Some(fake) = &case.fake {
        assert_eq!(
            fake.status(&created.provider_payment_id).as_deref(),
            Some("refunded")
        );
    }
}

async fn without_a_webhook_secret_nothing_verifies(case: Case) {
    let created = case.create(1000).await;
    let notification = case.settle(&created, "approved");
    let merchant = Merchant::new("pix@malha.dev", "Malha", "SAO PAULO").unwrap();
    let unconfigured: Box<dyn Provider> = match &case.fake {
        None => Box::new(Local::new(merchant, None)),
        Some(fake) => Box::new(
            MercadoPago::new(MercadoPagoConfig {
                base_url: fake.base_url.clone(),
                access_token: Secret::new(ACCESS_TOKEN),
                webhook_secret: None,
                payer_email: "cliente@malha.local".into(),
                notification_url: None,
            })
            .unwrap(),
        ),
    };
    assert_eq!(
        unconfigured.verify(&notification, Utc::now()),
        Err(Refusal::NotConfigured)
    );
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod local_provider {
            $(#[tokio::test] async fn $test() { super::$test(super::Case::local().await).await })*
        }
        mod mercadopago_provider {
            $(#[tokio::test] async fn $test() { super::$test(super::Case::mercadopago().await).await })*
        }
    };
}

conformance!(
    creates_a_valid_pix_code_for_the_amount,
    a_signed_approval_verifies_and_reports_approved,
    a_signed_rejection_reports_rejected,
    a_wrong_secret_or_a_changed_field_is_refused,
    an_old_notification_is_stale,
    an_approved_payment_can_be_refunded,
    without_a_webhook_secret_nothing_verifies,
);

#[tokio::test]
async fn mercadopago_receives_the_documented_request_and_maps_outages() {
    let case = Case::mercadopago().await;
    let created = case.create(1990).await;
    let fake = case.fake.as_ref().unwrap();
    let body = fake.created_with(&created.provider_payment_id).unwrap();
    assert_eq!(body["payment_method_id"], "pix");
    assert_eq!(body["transaction_amount"], 19.9);
    assert_eq!(body["payer"]["email"], "cliente@malha.local");
    assert!(body["date_of_expiration"].as_str().unwrap().contains('T'));
    fake.set_down(true);
    let error = case
        .provider
        .create(&Charge {
            payment_id: Uuid::now_v7(),
            txid: crate::domain::new_txid(),
            amount_centavos: 100,
            description: "x".into(),
            expires_at: Utc::now(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, super::ProviderError::Unavailable(_)),
        "{error}"
    );
}
