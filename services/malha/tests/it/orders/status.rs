//! An order status this build does not know (a newer version stored it)
//! is an error, never read as RECEIVED: staff cannot cancel it as if it
//! were new, and a list still answers without it.

use crate::helpers::{
    TestApp, assert_internal_incident, assert_listed_without, authed, store_status_from_the_future,
    stored_status,
};
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::*;

/// An order row as placing one stores it (no lines are needed to read it).
async fn stored_order(db: &sqlx::PgPool) -> String {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO orders.orders (id, customer_id, status, total_centavos) VALUES ($1, 'c', 'paid', 900)",
    )
    .bind(id)
    .execute(db)
    .await
    .unwrap();
    id.to_string()
}

#[tokio::test]
async fn an_unknown_stored_order_status_is_an_error_not_received() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut orders = OrdersServiceClient::new(app.channel().await);
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let kept = stored_order(&db).await;
    let newer = stored_order(&db).await;
    store_status_from_the_future(&db, "orders.orders", &newer, "refunded").await;

    let read = orders
        .get_order(authed(
            GetOrderRequest {
                order_id: newer.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&read, "refunded");

    let cancelled = orders
        .update_order_status(authed(
            UpdateOrderStatusRequest {
                order_id: newer.clone(),
                status: OrderStatus::Cancelled as i32,
                reason: "customer left".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&cancelled, "refunded");
    assert_eq!(
        stored_status(&db, "orders.orders", &newer).await,
        "refunded"
    );

    let listed = orders
        .list_orders(authed(
            ListOrdersRequest {
                page_size: 100,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .orders;
    let ids: Vec<_> = listed.iter().map(|o| o.id.as_str()).collect();
    assert_listed_without(&ids, &kept, &newer);
}
