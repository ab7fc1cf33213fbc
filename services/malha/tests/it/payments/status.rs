//! A payment status this build does not know (a newer version stored it)
//! is an error, never read as PENDING: confirming it by hand does not
//! approve it, and a list still answers without it.

use crate::helpers::{
    TestApp, assert_internal_incident, assert_listed_without, authed, store_status_from_the_future,
    stored_status,
};
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::payments::v1::*;

/// A pending payment row as creating one stores it.
async fn stored_payment(db: &sqlx::PgPool, order_id: uuid::Uuid) -> String {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments.payments
             (id, order_id, amount_centavos, status, provider, provider_payment_id, txid,
              pix_code, payer_id, expires_at)
         VALUES ($1, $2, 900, 'pending', 'local', $3, $3, 'pix', 'c', now() + interval '1 hour')",
    )
    .bind(id)
    .bind(order_id)
    .bind(id.simple().to_string())
    .execute(db)
    .await
    .unwrap();
    id.to_string()
}

#[tokio::test]
async fn an_unknown_stored_payment_status_is_an_error_not_pending() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut payments = PaymentsServiceClient::new(app.channel().await);
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let order_id = uuid::Uuid::now_v7();
    let kept = stored_payment(&db, order_id).await;
    let newer = stored_payment(&db, uuid::Uuid::now_v7()).await;
    store_status_from_the_future(&db, "payments.payments", &newer, "chargeback").await;

    let read = payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: newer.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&read, "chargeback");

    let confirmed = payments
        .confirm_payment(authed(
            ConfirmPaymentRequest {
                payment_id: newer.clone(),
                note: "paid at the counter".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&confirmed, "chargeback");
    assert_eq!(
        stored_status(&db, "payments.payments", &newer).await,
        "chargeback"
    );

    let listed = payments
        .list_payments(authed(
            ListPaymentsRequest {
                page_size: 100,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .payments;
    let ids: Vec<_> = listed.iter().map(|p| p.id.as_str()).collect();
    assert_listed_without(&ids, &kept, &newer);
}
