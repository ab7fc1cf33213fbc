//! Suppliers: create, read, list, idempotency, CNPJ uniqueness, validation,
//! updates by field mask, activation.

use super::*;

#[tokio::test]
async fn create_normalises_the_supplier_and_get_reads_it_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;

    let mut s = supplier("12.abc.345/01de-35");
    s.address.as_mut().unwrap().state = " sp".into();
    s.legal_name = "  Aços Brasil Ltda  ".into();
    let created = create(&mut client, &admin, s).await;

    assert!(uuid::Uuid::parse_str(&created.id).is_ok());
    assert_eq!(
        created.cnpj, "12ABC34501DE35",
        "alphanumeric, uppercase, unpunctuated"
    );
    assert_eq!(created.legal_name, "Aços Brasil Ltda");
    let address = created.address.clone().unwrap();
    assert_eq!(
        (address.state.as_str(), address.postal_code.as_str()),
        ("SP", "01310100")
    );
    let names: Vec<_> = created.contacts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["Marta Souza", "Rui Lima"],
        "contacts keep their order"
    );
    assert!(created.active);
    assert!(created.create_time.is_some() && created.update_time.is_some());

    let read = get(&mut client, &admin, &created.id).await.unwrap();
    assert_eq!(read, created);

    let unknown = get(&mut client, &admin, &uuid::Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = get(&mut client, &admin, "nope").await.unwrap_err();
    assert_eq!(violated_fields(&malformed), ["supplier_id"]);
}

#[tokio::test]
async fn list_pages_oldest_first_and_filters_by_activity_and_cnpj() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let mut ids = Vec::new();
    for cnpj in ["11222333000181", "12345678000195", "33541476000199"] {
        ids.push(create(&mut client, &admin, supplier(cnpj)).await.id);
    }

    let first = list(
        &mut client,
        &admin,
        ListSuppliersRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first.suppliers.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = list(
        &mut client,
        &admin,
        ListSuppliersRequest {
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        },
    )
    .await;
    assert!(second.next_page_token.is_empty());
    let seen: Vec<_> = first
        .suppliers
        .iter()
        .chain(&second.suppliers)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(seen, ids);

    client
        .deactivate_supplier(authed(
            DeactivateSupplierRequest {
                supplier_id: ids[1].clone(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let active = list(
        &mut client,
        &admin,
        ListSuppliersRequest {
            active: Some(true),
            ..Default::default()
        },
    )
    .await;
    let active: Vec<_> = active.suppliers.iter().map(|s| s.id.clone()).collect();
    assert_eq!(active, [ids[0].clone(), ids[2].clone()]);
    let inactive = list(
        &mut client,
        &admin,
        ListSuppliersRequest {
            active: Some(false),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(inactive.suppliers.len(), 1);
    assert_eq!(inactive.suppliers[0].id, ids[1]);

    let by_cnpj = list(
        &mut client,
        &admin,
        ListSuppliersRequest {
            cnpj: "12.345.678/0001-95".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_cnpj.suppliers.len(), 1);
    assert_eq!(by_cnpj.suppliers[0].id, ids[1]);

    let bad = client
        .list_suppliers(authed(
            ListSuppliersRequest {
                page_size: -1,
                page_token: "%%%".into(),
                cnpj: "12.345.678/0001-00".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["page_size", "cnpj"]);
}

#[tokio::test]
async fn create_is_idempotent_by_request_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let request = CreateSupplierRequest {
        supplier: Some(supplier("11.222.333/0001-81")),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let first = client
        .create_supplier(authed(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    // The retry carries the same CNPJ: it must not be taken for a duplicate.
    let retry = client
        .create_supplier(authed(request, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retry);
    let all = list(&mut client, &admin, ListSuppliersRequest::default()).await;
    assert_eq!(all.suppliers.len(), 1);
}

#[tokio::test]
async fn a_cnpj_belongs_to_one_supplier_however_it_is_spelled() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    create(&mut client, &admin, supplier("12ABC34501DE35")).await;
    let other = create(&mut client, &admin, supplier("11222333000181")).await;

    let duplicate = client
        .create_supplier(authed(
            CreateSupplierRequest {
                supplier: Some(supplier("12.abc.345/01DE-35")),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    assert!(duplicate.message().contains("CNPJ"), "{duplicate:?}");

    let taken = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: other.id,
                    cnpj: "12ABC34501DE35".into(),
                    ..Default::default()
                },
                &["cnpj"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn invalid_suppliers_are_refused_naming_every_bad_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;

    let mut bad = supplier("11.222.333/0001-82");
    bad.legal_name = "  ".into();
    bad.contacts[0].email = "not an e-mail".into();
    bad.contacts[1].phone = String::new();
    bad.contacts[1].name = String::new();
    let address = bad.address.as_mut().unwrap();
    address.city = String::new();
    address.state = "XX".into();
    address.postal_code = "0131-100".into();
    let refused = client
        .create_supplier(authed(
            CreateSupplierRequest {
                supplier: Some(bad),
                request_id: "not-a-uuid".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        [
            "supplier.legal_name",
            "supplier.cnpj",
            "supplier.contacts[0].email",
            "supplier.contacts[1].name",
            "supplier.contacts[1].email",
            "supplier.address.city",
            "supplier.address.state",
            "supplier.address.postal_code",
            "request_id",
        ]
    );

    for cnpj in [
        "00.000.000/0000-00",
        "11111111111111",
        "1122233300018",
        "12ABC34501DE3A",
        "",
    ] {
        let refused = client
            .create_supplier(authed(
                CreateSupplierRequest {
                    supplier: Some(supplier(cnpj)),
                    request_id: String::new(),
                },
                &admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["supplier.cnpj"], "{cnpj:?}");
    }

    let mut no_address = supplier("11222333000181");
    no_address.address = None;
    let refused = client
        .create_supplier(authed(
            CreateSupplierRequest {
                supplier: Some(no_address),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["supplier.address"]);

    let empty = client
        .create_supplier(authed(CreateSupplierRequest::default(), &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&empty), ["supplier"]);
}

#[tokio::test]
async fn update_changes_only_the_fields_in_the_mask() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let created = create(&mut client, &admin, supplier("11222333000181")).await;

    let mut changes = supplier("12ABC34501DE35");
    changes.id = created.id.clone();
    changes.trade_name = "Aços BR".into();
    changes.legal_name = "Ignored: not in the mask".into();
    changes.address.as_mut().unwrap().city = "Campinas".into();
    changes.contacts = vec![Contact {
        name: "Nova Pessoa".into(),
        email: "nova@acosbrasil.com.br".into(),
        ..Default::default()
    }];
    let updated = client
        .update_supplier(authed(
            update_request(changes.clone(), &["trade_name", "address.city", "contacts"]),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .supplier
        .unwrap();
    assert_eq!(updated.trade_name, "Aços BR");
    assert_eq!(updated.legal_name, created.legal_name);
    assert_eq!(updated.cnpj, created.cnpj, "cnpj was not in the mask");
    assert_eq!(updated.address.as_ref().unwrap().city, "Campinas");
    assert_eq!(updated.address.as_ref().unwrap().street, "Avenida Paulista");
    assert_eq!(updated.contacts, changes.contacts);
    assert_eq!(updated.create_time, created.create_time);
    assert!(instant(updated.update_time) > instant(created.update_time));
    assert_eq!(
        get(&mut client, &admin, &created.id).await.unwrap(),
        updated
    );

    // Without a mask, the populated fields are the mask.
    let implied = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: created.id.clone(),
                    address: Some(Address {
                        state: "rj".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &[],
            ),
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .supplier
        .unwrap();
    let address = implied.address.unwrap();
    assert_eq!(
        (address.state.as_str(), address.city.as_str()),
        ("RJ", "Campinas")
    );
    assert_eq!(implied.trade_name, "Aços BR");

    // `address` replaces every part: an empty street is then required.
    let bad = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: created.id.clone(),
                    cnpj: "123".into(),
                    address: Some(Address {
                        city: "Niterói".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &["address", "cnpj"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&bad),
        [
            "supplier.cnpj",
            "supplier.address.street",
            "supplier.address.number",
            "supplier.address.district",
            "supplier.address.state",
            "supplier.address.postal_code",
        ]
    );

    let paths = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: "nope".into(),
                    ..Default::default()
                },
                &["trade_name", "active", "colour"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&paths),
        ["supplier.id", "update_mask", "update_mask"]
    );

    let nothing = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: created.id.clone(),
                    ..Default::default()
                },
                &[],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&nothing), ["update_mask"]);

    let unknown = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: uuid::Uuid::now_v7().to_string(),
                    trade_name: "Ghost".into(),
                    ..Default::default()
                },
                &[],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn deactivation_and_activation_refuse_to_repeat_themselves() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let id = create(&mut client, &admin, supplier("11222333000181"))
        .await
        .id;
    let deactivate = || DeactivateSupplierRequest {
        supplier_id: id.clone(),
    };
    let activate = || ActivateSupplierRequest {
        supplier_id: id.clone(),
    };

    let off = client
        .deactivate_supplier(authed(deactivate(), &admin))
        .await
        .unwrap()
        .into_inner()
        .supplier
        .unwrap();
    assert!(!off.active);
    let again = client
        .deactivate_supplier(authed(deactivate(), &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // An inactive supplier takes no new products.
    let refused = add(&mut client, &admin, product(&id, "chapa"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    let on = client
        .activate_supplier(authed(activate(), &admin))
        .await
        .unwrap()
        .into_inner()
        .supplier
        .unwrap();
    assert!(on.active);
    let again = client
        .activate_supplier(authed(activate(), &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    add(&mut client, &admin, product(&id, "chapa"))
        .await
        .unwrap();

    let unknown = client
        .activate_supplier(authed(
            ActivateSupplierRequest {
                supplier_id: uuid::Uuid::now_v7().to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn a_star_mask_replaces_every_updatable_field_and_bad_paths_are_named() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = app.suppliers().await;
    let created = create(&mut client, &admin, supplier("11222333000181")).await;

    // `*` writes every updatable field: the trade name and contacts left
    // empty are cleared, the CNPJ and address are those sent.
    let mut replacement = supplier("12ABC34501DE35");
    replacement.id = created.id.clone();
    replacement.trade_name = String::new();
    replacement.contacts = Vec::new();
    replacement.address.as_mut().unwrap().complement = String::new();
    let replaced = client
        .update_supplier(authed(update_request(replacement, &["*"]), &admin))
        .await
        .unwrap()
        .into_inner()
        .supplier
        .unwrap();
    assert_eq!(
        (replaced.trade_name.as_str(), replaced.cnpj.as_str()),
        ("", "12ABC34501DE35")
    );
    assert!(replaced.contacts.is_empty());
    assert_eq!(replaced.address.unwrap().complement, "");

    let bad = client
        .update_supplier(authed(
            update_request(
                Supplier {
                    id: created.id.clone(),
                    ..Default::default()
                },
                &["active", "address.planet", "contacts.name"],
            ),
            &admin,
        ))
        .await
        .unwrap_err();
    let described: Vec<_> = crate::helpers::violations(&bad)
        .into_iter()
        .map(|(field, description)| format!("{field}: {description}"))
        .collect();
    assert_eq!(
        described,
        [
            "update_mask: \"active\" cannot be updated; use ActivateSupplier or DeactivateSupplier",
            "update_mask: \"address.planet\" is not a field of Supplier",
            "update_mask: \"contacts.name\" is not a field of Supplier",
        ]
    );
}
