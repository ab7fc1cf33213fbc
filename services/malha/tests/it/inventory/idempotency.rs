//! Inventory's creates through the kit's idempotency helper: a product and
//! a stock movement, retried and reused.

use tonic::transport::Channel;

use crate::helpers::{TestApp, authed, violated_fields};
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::inventory::v1::*;

fn product(sku: &str, request_id: &str) -> CreateProductRequest {
    CreateProductRequest {
        product: Some(Product {
            sku: sku.into(),
            name: format!("MDF {sku}"),
            unit: "sheet".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

fn receipt(product_id: &str, quantity: i64, request_id: &str) -> RecordMovementRequest {
    RecordMovementRequest {
        product_id: product_id.into(),
        kind: MovementKind::Receipt as i32,
        quantity,
        reason: "delivery".into(),
        request_id: request_id.into(),
    }
}

async fn record(
    inventory: &mut InventoryServiceClient<Channel>,
    token: &str,
    request: RecordMovementRequest,
) -> Result<RecordMovementResponse, tonic::Status> {
    inventory
        .record_movement(authed(request, token))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_retried_receipt_counts_once_and_a_reused_key_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut inventory = InventoryServiceClient::new(app.channel().await);
    let key = uuid::Uuid::now_v7().to_string();
    let created = inventory
        .create_product(authed(product("MDF-I1", &key), &admin))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let other_product = inventory
        .create_product(authed(product("MDF-I2", &key), &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&other_product), ["request_id"]);

    let movement_key = uuid::Uuid::now_v7().to_string();
    let first = record(
        &mut inventory,
        &admin,
        receipt(&created.id, 5, &movement_key),
    )
    .await
    .unwrap();
    let retry = record(
        &mut inventory,
        &admin,
        receipt(&created.id, 5, &movement_key),
    )
    .await
    .expect("a retry is no second receipt");
    let reused = record(
        &mut inventory,
        &admin,
        receipt(&created.id, 6, &movement_key),
    )
    .await
    .unwrap_err();

    assert_eq!(first, retry);
    assert_eq!(violated_fields(&reused), ["request_id"]);
    let now = inventory
        .get_product(authed(
            GetProductRequest {
                product_id: created.id,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(now.quantity_on_hand, 5, "received once");
}

/// A movement refused for want of stock keeps no key: after a receipt the
/// same retry goes through.
#[tokio::test]
async fn a_refused_movement_can_be_retried_with_its_key() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut inventory = InventoryServiceClient::new(app.channel().await);
    let created = inventory
        .create_product(authed(product("MDF-I3", ""), &admin))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let consume = RecordMovementRequest {
        kind: MovementKind::Consumption as i32,
        quantity: 2,
        ..receipt(&created.id, 2, &uuid::Uuid::now_v7().to_string())
    };
    let refused = record(&mut inventory, &admin, consume.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    record(&mut inventory, &admin, receipt(&created.id, 3, ""))
        .await
        .unwrap();
    let done = record(&mut inventory, &admin, consume).await.unwrap();

    assert_eq!(done.product.unwrap().quantity_on_hand, 1);
}
