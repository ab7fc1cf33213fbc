//! A movement kind this build does not know (a newer version stored it) is
//! never read as UNSPECIFIED: the ledger's list answers without that entry.

use crate::helpers::{TestApp, assert_listed_without, authed};
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::inventory::v1::*;

#[tokio::test]
async fn an_unknown_stored_movement_kind_is_left_out_of_the_ledger_not_unspecified() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut inventory = InventoryServiceClient::new(app.channel().await);
    let product = inventory
        .create_product(authed(
            CreateProductRequest {
                product: Some(Product {
                    sku: "MDF-K1".into(),
                    name: "MDF 15 mm".into(),
                    unit: "sheet".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let mut receive = async |quantity| {
        inventory
            .record_movement(authed(
                RecordMovementRequest {
                    product_id: product.id.clone(),
                    kind: MovementKind::Receipt as i32,
                    quantity,
                    reason: "delivery".into(),
                    request_id: String::new(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .movement
            .unwrap()
            .id
    };
    let kept = receive(5).await;
    let newer = receive(3).await;
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    sqlx::query("ALTER TABLE inventory.movements DROP CONSTRAINT movements_kind_check")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE inventory.movements SET kind = 'transfer' WHERE id = $1::uuid")
        .bind(&newer)
        .execute(&db)
        .await
        .unwrap();

    let listed = inventory
        .list_movements(authed(
            ListMovementsRequest {
                product_id: product.id.clone(),
                page_size: 10,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("one unreadable entry never breaks the list")
        .into_inner()
        .movements;
    let ids: Vec<&str> = listed.iter().map(|m| m.id.as_str()).collect();
    assert_listed_without(&ids, &kept, &newer);
    assert!(
        listed
            .iter()
            .all(|m| m.kind == MovementKind::Receipt as i32),
        "{listed:?}"
    );
}
