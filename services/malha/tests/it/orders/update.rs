//! UpdateCategory and UpdateProduct (the menu) and the kit's field-mask
//! rules: unknown paths named, `*` replacing every updatable field, an
//! empty mask meaning the fields the request sets.

use tonic::transport::Channel;

use crate::helpers::{TestApp, authed, mask, violations};
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::*;

type Client = OrdersServiceClient<Channel>;

fn unique(name: &str) -> String {
    format!(
        "{name} {}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

async fn category(orders: &mut Client, admin: &str, name: &str) -> Category {
    orders
        .create_category(authed(
            CreateCategoryRequest {
                category: Some(Category {
                    name: unique(name),
                    description: "para comer".into(),
                    position: 3,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap()
}

#[tokio::test]
async fn update_category_follows_the_field_mask_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut orders = Client::new(app.channel().await);
    let created = category(&mut orders, &admin, "Salgados").await;
    let mut update = async |category: Category, update_mask| {
        orders
            .update_category(authed(
                UpdateCategoryRequest {
                    category: Some(category),
                    update_mask,
                },
                &admin,
            ))
            .await
            .map(|r| r.into_inner().category.unwrap())
    };
    let id = || Category {
        id: created.id.clone(),
        ..Default::default()
    };

    let refused = update(id(), mask(&["flavour", "create_time", "name.pt"]))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&refused),
        [
            (
                "update_mask".into(),
                "\"flavour\" is not a field of Category".into()
            ),
            (
                "update_mask".into(),
                "\"create_time\" cannot be updated".into()
            ),
            (
                "update_mask".into(),
                "\"name.pt\" is not a field of Category".into()
            ),
        ]
    );

    // An empty mask: only the position, which the request sets, changes.
    let moved = update(
        Category {
            position: 7,
            ..id()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            moved.name.as_str(),
            moved.description.as_str(),
            moved.position
        ),
        (created.name.as_str(), "para comer", 7)
    );

    // `*`: the description the request leaves empty is cleared.
    let name = unique("Doces");
    let replaced = update(
        Category {
            name: name.clone(),
            ..id()
        },
        mask(&["*"]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            replaced.name.as_str(),
            replaced.description.as_str(),
            replaced.position
        ),
        (name.as_str(), "", 0)
    );

    let nothing = update(id(), None).await.unwrap_err();
    assert_eq!(violations(&nothing)[0].0, "update_mask");
}

#[tokio::test]
async fn update_product_follows_the_field_mask_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut orders = Client::new(app.channel().await);
    let snacks = category(&mut orders, &admin, "Lanches").await;
    let drinks = category(&mut orders, &admin, "Bebidas").await;
    let created = orders
        .create_product(authed(
            CreateProductRequest {
                product: Some(Product {
                    category_id: snacks.id.clone(),
                    name: unique("X-Salada"),
                    description: "pão, hambúrguer, salada".into(),
                    price_centavos: 2200,
                    image_url: "https://cdn.example.com/x.png".into(),
                    available: true,
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
    let mut update = async |product: Product, update_mask| {
        orders
            .update_product(authed(
                UpdateProductRequest {
                    product: Some(product),
                    update_mask,
                },
                &admin,
            ))
            .await
            .map(|r| r.into_inner().product.unwrap())
    };
    let id = || Product {
        id: created.id.clone(),
        ..Default::default()
    };

    let refused = update(id(), mask(&["price", "id", ""])).await.unwrap_err();
    let described: Vec<_> = violations(&refused).into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        described,
        [
            "\"price\" is not a field of Product",
            "\"id\" cannot be updated",
            "an empty path",
        ]
    );

    // An empty mask takes the set fields only: price and category move,
    // the name and availability stay.
    let repriced = update(
        Product {
            price_centavos: 2500,
            category_id: drinks.id.clone(),
            ..id()
        },
        mask(&[]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            repriced.price_centavos,
            repriced.category_id.as_str(),
            repriced.name.as_str(),
            repriced.available
        ),
        (2500, drinks.id.as_str(), created.name.as_str(), true)
    );

    // `false` is the default: only an explicit path can write it.
    let sold_out = update(id(), mask(&["available"])).await.unwrap();
    assert!(!sold_out.available);
    assert_eq!(sold_out.price_centavos, 2500);

    // `*` checks every updatable field: the missing name and category.
    let partial = update(
        Product {
            price_centavos: 100,
            ..id()
        },
        mask(&["*"]),
    )
    .await
    .unwrap_err();
    let fields: Vec<_> = violations(&partial).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["product.name", "product.category_id"]);
}
