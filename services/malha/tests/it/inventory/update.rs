//! UpdateProduct and the kit's field-mask rules: unknown and read-only
//! paths named, a path inside a scalar refused, `*` replacing every
//! updatable field, an empty mask meaning the fields the request sets.

use crate::helpers::{TestApp, authed, mask, violations};
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::inventory::v1::*;

#[tokio::test]
async fn update_product_follows_the_field_mask_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut inventory = InventoryServiceClient::new(app.channel().await);
    let sku = format!("MASK-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let created = inventory
        .create_product(authed(
            CreateProductRequest {
                product: Some(Product {
                    sku: sku.clone(),
                    name: "MDF 15mm".into(),
                    unit: "sheet".into(),
                    minimum_level: 5,
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
    let update = |product: Product, update_mask| {
        let mut inventory = inventory.clone();
        let admin = admin.clone();
        async move {
            inventory
                .update_product(authed(
                    UpdateProductRequest {
                        product: Some(product),
                        update_mask,
                    },
                    &admin,
                ))
                .await
                .map(|r| r.into_inner().product.unwrap())
        }
    };
    let id = || Product {
        id: created.id.clone(),
        ..Default::default()
    };

    // Unknown, read-only and nested-in-a-scalar paths: each named.
    let refused = update(
        Product {
            name: "MDF 18mm".into(),
            ..id()
        },
        mask(&["name", "colour", "sku", "quantity_on_hand", "name.first"]),
    )
    .await
    .unwrap_err();
    let problems = violations(&refused);
    assert!(
        problems.iter().all(|(field, _)| field == "update_mask"),
        "{problems:?}"
    );
    let described: Vec<&str> = problems.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(
        described,
        [
            "\"colour\" is not a field of Product",
            "\"sku\" cannot be updated; the SKU names the product; create another",
            "\"quantity_on_hand\" cannot be updated; record a movement in the stock ledger",
            "\"name.first\" is not a field of Product",
        ]
    );

    // An empty mask: only what the request sets changes.
    let renamed = update(
        Product {
            name: "MDF 18mm".into(),
            ..id()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            renamed.name.as_str(),
            renamed.unit.as_str(),
            renamed.minimum_level
        ),
        ("MDF 18mm", "sheet", 5)
    );
    let nothing = update(id(), mask(&[])).await.unwrap_err();
    assert_eq!(violations(&nothing)[0].0, "update_mask");

    // An explicit path writes a default value an empty mask cannot.
    let zero = update(id(), mask(&["minimum_level"])).await.unwrap();
    assert_eq!((zero.minimum_level, zero.name.as_str()), (0, "MDF 18mm"));

    // `*` replaces every updatable field: an absent unit is then required.
    let partial = update(
        Product {
            name: "Compensado".into(),
            ..id()
        },
        mask(&["*"]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        violations(&partial),
        [("product.unit".into(), "required".into())]
    );
    let replaced = update(
        Product {
            name: "Compensado".into(),
            unit: "board".into(),
            minimum_level: 2,
            ..id()
        },
        mask(&["*"]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            replaced.sku.as_str(),
            replaced.name.as_str(),
            replaced.unit.as_str(),
            replaced.minimum_level
        ),
        (sku.as_str(), "Compensado", "board", 2)
    );
}
