//! Suppliers: delete versus deactivate, supplied products, and who may do
//! what.

use super::*;

#[tokio::test]
async fn delete_removes_an_unreferenced_supplier_and_deactivates_a_referenced_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let lonely = create(&mut client, &admin, supplier("11222333000181"))
        .await
        .id;
    let busy = create(&mut client, &admin, supplier("12345678000195"))
        .await
        .id;
    add(&mut client, &admin, product(&busy, "chapa MDF"))
        .await
        .unwrap();

    let deleted = client
        .delete_supplier(authed(
            DeleteSupplierRequest {
                supplier_id: lonely.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.outcome(), DeleteOutcome::Deleted);
    assert_eq!(deleted.supplier.unwrap().id, lonely);
    let gone = get(&mut client, &admin, &lonely).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    let kept = client
        .delete_supplier(authed(
            DeleteSupplierRequest {
                supplier_id: busy.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.outcome(), DeleteOutcome::Deactivated);
    assert!(!kept.supplier.unwrap().active);
    let still_there = get(&mut client, &admin, &busy).await.unwrap();
    assert!(!still_there.active);

    // Deleting it again keeps it, still deactivated, not an error.
    let again = client
        .delete_supplier(authed(
            DeleteSupplierRequest {
                supplier_id: busy.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcome(), DeleteOutcome::Deactivated);

    let unknown = client
        .delete_supplier(authed(
            DeleteSupplierRequest {
                supplier_id: lonely,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn supplied_products_are_added_replaced_listed_and_removed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let id = create(&mut client, &admin, supplier("11222333000181"))
        .await
        .id;

    let mut products = Vec::new();
    for name in ["chapa MDF 15mm", "chapa MDF 18mm", "fita de borda"] {
        products.push(add(&mut client, &admin, product(&id, name)).await.unwrap());
    }
    let first = &products[0];
    assert_eq!(first.supplier_id, id);
    assert_eq!(first.price_centavos, Some(12_34));
    assert_eq!(first.lead_time_days, 7);

    // The same terms again change nothing; new terms replace the old.
    let mut same = product(&id, "chapa MDF 15mm");
    same.product_id = first.product_id.clone();
    let retried = add(&mut client, &admin, same.clone()).await.unwrap();
    assert_eq!(&retried, first);
    let mut cheaper = same;
    cheaper.price_centavos = None;
    cheaper.lead_time_days = 3;
    let replaced = add(&mut client, &admin, cheaper).await.unwrap();
    assert_eq!(replaced.price_centavos, None, "price no longer known");
    assert_eq!(replaced.lead_time_days, 3);
    assert_eq!(replaced.create_time, first.create_time);
    assert!(instant(replaced.update_time) > instant(first.update_time));

    let page = |token: String| ListSuppliedProductsRequest {
        supplier_id: id.clone(),
        page_size: 2,
        page_token: token,
    };
    let one = client
        .list_supplied_products(authed(page(String::new()), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.supplied_products.len(), 2);
    let two = client
        .list_supplied_products(authed(page(one.next_page_token), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(two.supplied_products.len(), 1);
    assert!(two.next_page_token.is_empty());
    let mut listed: Vec<_> = one
        .supplied_products
        .iter()
        .chain(&two.supplied_products)
        .map(|p| p.product_id.clone())
        .collect();
    let mut added: Vec<_> = products.iter().map(|p| p.product_id.clone()).collect();
    listed.sort();
    added.sort();
    assert_eq!(listed, added);

    let remove = RemoveSuppliedProductRequest {
        supplier_id: id.clone(),
        product_id: products[1].product_id.clone(),
    };
    client
        .remove_supplied_product(authed(remove.clone(), &admin))
        .await
        .unwrap();
    let again = client
        .remove_supplied_product(authed(remove, &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    let left = client
        .list_supplied_products(authed(page(String::new()), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.supplied_products.len(), 2);

    let ghost = uuid::Uuid::now_v7().to_string();
    let unknown = add(&mut client, &admin, product(&ghost, "x"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let unknown = client
        .list_supplied_products(authed(
            ListSuppliedProductsRequest {
                supplier_id: ghost,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let bad = add(
        &mut client,
        &admin,
        AddSuppliedProductRequest {
            supplier_id: id.clone(),
            product_id: "chapa".into(),
            product_name: " ".into(),
            supplier_sku: "x".repeat(65),
            price_centavos: Some(-1),
            lead_time_days: 400,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        violated_fields(&bad),
        [
            "product_id",
            "product_name",
            "supplier_sku",
            "price_centavos",
            "lead_time_days",
        ]
    );
}

/// A service account's token (role `service`).
async fn service_token(app: &TestApp, admin: &str) -> String {
    let account = app.service_account(admin, "inventory").await;
    app.identity()
        .await
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id,
            client_secret: account.client_secret.expose().to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

#[tokio::test]
async fn staff_read_and_write_only_admins_delete_and_customers_see_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let employee = app.employee_token(&admin, "joana").await;
    let customer = app.customer_token().await;
    let service = service_token(&app, &admin).await;
    let mut client = app.suppliers().await;

    let anonymous = client
        .list_suppliers(ListSuppliersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Employees: the production team registers and maintains suppliers.
    let id = create(&mut client, &employee, supplier("11222333000181"))
        .await
        .id;
    get(&mut client, &employee, &id).await.unwrap();
    add(&mut client, &employee, product(&id, "chapa"))
        .await
        .unwrap();
    let delete = || DeleteSupplierRequest {
        supplier_id: id.clone(),
    };
    let denied = client
        .delete_supplier(authed(delete(), &employee))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Services read only.
    list(&mut client, &service, ListSuppliersRequest::default()).await;
    let denied = client
        .create_supplier(authed(
            CreateSupplierRequest {
                supplier: Some(supplier("12345678000195")),
                request_id: String::new(),
            },
            &service,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Customers: nothing.
    let denied = get(&mut client, &customer, &id).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = add(&mut client, &customer, product(&id, "x"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    client
        .delete_supplier(authed(delete(), &admin))
        .await
        .expect("admins delete");
}
