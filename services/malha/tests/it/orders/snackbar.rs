//! Orders in the snack bar: the flow, server-side pricing and line
//! validation, live tracking (across replicas and as SSE through the edge),
//! the kitchen list, who may do what, JSON through the edge, the demo menu.

use super::*;

#[tokio::test]
async fn a_customer_orders_pays_with_pix_and_the_kitchen_delivers() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    snack_bar_flow(&app.url, &admin, SECRET).await;
}

#[tokio::test]
async fn prices_come_from_the_menu_and_bad_lines_are_refused_field_by_field() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;

    let mut cheap = SnackBar::item(&bar.burger, 3);
    cheap.unit_price_centavos = 1;
    cheap.line_total_centavos = 3;
    let order = bar
        .place(&customer, vec![cheap])
        .await
        .unwrap()
        .order
        .unwrap();
    assert_eq!(order.total_centavos, 3 * 2490);
    assert_eq!(order.items[0].line_total_centavos, 3 * 2490);

    let refused = bar
        .place(
            &customer,
            vec![
                SnackBar::item(&bar.burger, 0),
                SnackBar::item(&bar.burger, -2),
                SnackBar::item(&bar.juice, 51),
                SnackBar::item(&bar.juice, i32::MAX),
                OrderItem {
                    product_id: "a burger".into(),
                    quantity: 1,
                    ..Default::default()
                },
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        [
            "items[0].quantity",
            "items[1].quantity",
            "items[2].quantity",
            "items[3].quantity",
            "items[4].product_id"
        ]
    );
    let empty = bar.place(&customer, vec![]).await.unwrap_err();
    assert_eq!(violated_fields(&empty), ["items"]);
    let too_many = bar
        .place(&customer, vec![SnackBar::item(&bar.juice, 1); 101])
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&too_many), ["items"]);

    // Every unavailable or unknown product is named.
    let ghost = Product {
        id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let unavailable = bar
        .place(
            &customer,
            vec![
                SnackBar::item(&bar.burger, 1),
                SnackBar::item(&bar.pie, 1),
                SnackBar::item(&ghost, 1),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(unavailable.code(), Code::FailedPrecondition);
    assert!(
        unavailable
            .message()
            .contains(&format!("items[1] \"{}\"", bar.pie.name)),
        "{}",
        unavailable.message()
    );
    assert!(
        unavailable
            .message()
            .contains(&format!("items[2] ({})", ghost.id)),
        "{}",
        unavailable.message()
    );

    // A retry with the same request_id is the same order, paid once.
    let request = CreateOrderRequest {
        items: vec![SnackBar::item(&bar.juice, 2)],
        notes: "para viagem".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let first = bar
        .orders
        .create_order(authed(request.clone(), &customer))
        .await
        .unwrap()
        .into_inner();
    let again = bar
        .orders
        .create_order(authed(request, &customer))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.order.as_ref().unwrap().id,
        again.order.as_ref().unwrap().id
    );
    assert_eq!(
        first.payment.unwrap().payment_id,
        again.payment.unwrap().payment_id
    );
    assert_eq!(
        again.order.unwrap().history.len(),
        2,
        "RECEIVED, AWAITING_PAYMENT: nothing twice"
    );
}

#[tokio::test]
async fn a_watch_on_one_replica_sees_changes_made_on_another() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, _) = bar.order(&customer).await;

    let other = replica(&app, "orders", 0).await;
    let mut on_other = OrdersServiceClient::connect(crate::helpers::url(other.grpc_addr))
        .await
        .unwrap();
    let mut watch = on_other
        .watch_order(authed(
            WatchOrderRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert!(first.change.is_none());

    // Cancelled on the first replica, seen (well before the fallback poll) on the other.
    let started = std::time::Instant::now();
    bar.orders
        .cancel_order(authed(
            CancelOrderRequest {
                order_id: order.id.clone(),
                reason: "changed my mind".into(),
            },
            &customer,
        ))
        .await
        .unwrap();
    let change = tokio::time::timeout(WAIT, watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        change.change.unwrap().to_status,
        OrderStatus::Cancelled as i32
    );
    assert!(
        started.elapsed() < malha_orders::watch::FALLBACK_POLL,
        "NOTIFY, not the poll: {:?}",
        started.elapsed()
    );
    assert!(
        watch.message().await.unwrap().is_none(),
        "the stream ends once the order is final"
    );
    other.shutdown();
    other.wait().await.unwrap();
}

#[tokio::test]
async fn the_kitchen_sees_ready_then_preparing_then_the_rest_oldest_first() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let (order, payment) = bar.order(&customer).await;
        ids.push((order.id, payment));
    }
    // 0: awaiting payment; 1: paid; 2: preparing; 3: ready; 4: delivered; 5: cancelled.
    for (id, payment) in &ids[1..5] {
        bar.notify(
            &txid(payment),
            local::APPROVED,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
        .unwrap();
        bar.wait_for(id, OrderStatus::Paid).await;
    }
    let steps: [&[OrderStatus]; 3] = [
        &[OrderStatus::Preparing],
        &[OrderStatus::Preparing, OrderStatus::Ready],
        &[
            OrderStatus::Preparing,
            OrderStatus::Ready,
            OrderStatus::Delivered,
        ],
    ];
    for ((id, _), steps) in ids[2..5].iter().zip(steps) {
        for status in steps {
            bar.kitchen(&admin, id, *status).await.unwrap();
        }
    }
    bar.kitchen(&admin, &ids[5].0, OrderStatus::Cancelled)
        .await
        .unwrap();

    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = bar
            .orders
            .list_kitchen_orders(authed(
                ListKitchenOrdersRequest {
                    page_size: 2,
                    page_token: token,
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.orders.into_iter().map(|o| o.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = [3, 2, 0, 1].iter().map(|&i| ids[i].0.clone()).collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn who_may_do_what() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let employee = app.employee_token(&admin, "cozinha").await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let alice = bar.customer().await;
    let bob = bar.customer().await;
    let (order, payment) = bar.order(&alice).await;

    // Anyone reads the menu; only customers with a token order.
    bar.orders
        .list_products(ListProductsRequest::default())
        .await
        .expect("public");
    bar.orders
        .list_categories(ListCategoriesRequest {})
        .await
        .expect("public");
    let anonymous = bar
        .orders
        .create_order(CreateOrderRequest {
            items: vec![SnackBar::item(&bar.burger, 1)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    // Customers do not edit the menu or run the kitchen.
    let new_product = CreateProductRequest {
        product: Some(Product {
            name: "Free lunch".into(),
            ..bar.burger.clone()
        }),
        request_id: String::new(),
    };
    for token in [&alice, &employee] {
        let denied = bar
            .orders
            .create_product(authed(new_product.clone(), token))
            .await
            .unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
    }
    let denied = bar
        .kitchen(&alice, &order.id, OrderStatus::Preparing)
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = bar
        .orders
        .list_kitchen_orders(authed(ListKitchenOrdersRequest::default(), &alice))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    for denied in [
        bar.payments
            .confirm_payment(authed(
                ConfirmPaymentRequest {
                    payment_id: payment.payment_id.clone(),
                    note: String::new(),
                },
                &alice,
            ))
            .await
            .unwrap_err(),
        bar.payments
            .confirm_payment(authed(
                ConfirmPaymentRequest {
                    payment_id: payment.payment_id.clone(),
                    note: String::new(),
                },
                &employee,
            ))
            .await
            .unwrap_err(),
        bar.payments
            .verify_ledger(authed(VerifyLedgerRequest {}, &alice))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(denied.code(), Code::PermissionDenied);
    }

    // Another customer's order and payment do not exist for bob.
    assert_eq!(
        bar.get(&bob, &order.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let watch = bar
        .orders
        .watch_order(authed(
            WatchOrderRequest {
                order_id: order.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::NotFound);
    let cancel = bar
        .orders
        .cancel_order(authed(
            CancelOrderRequest {
                order_id: order.id.clone(),
                reason: String::new(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::NotFound);
    let theirs = bar
        .payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: payment.payment_id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);
    bar.payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: payment.payment_id.clone(),
            },
            &alice,
        ))
        .await
        .expect("alice reads her payment");
    let listed = bar
        .orders
        .list_orders(authed(ListOrdersRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.orders.is_empty(), "bob sees only his orders");

    // Employees take products off the menu and move paid orders, not unpaid ones.
    let sold_out = bar
        .orders
        .set_product_availability(authed(
            SetProductAvailabilityRequest {
                product_id: bar.juice.id.clone(),
                available: false,
            },
            &employee,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(!sold_out.available);
    let early = bar
        .kitchen(&employee, &order.id, OrderStatus::Preparing)
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    let paid_by_hand = bar
        .kitchen(&employee, &order.id, OrderStatus::Paid)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&paid_by_hand), ["status"]);
    bar.notify(&txid(&payment), local::APPROVED, "who-1")
        .await
        .unwrap();
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    let skipped = bar
        .kitchen(&employee, &order.id, OrderStatus::Delivered)
        .await
        .unwrap_err();
    assert_eq!(skipped.code(), Code::FailedPrecondition);
    bar.kitchen(&employee, &order.id, OrderStatus::Preparing)
        .await
        .unwrap();
    // Retrying the same tap changes nothing.
    let again = bar
        .kitchen(&employee, &order.id, OrderStatus::Preparing)
        .await
        .unwrap();
    assert_eq!(again.history.len(), 4);

    // Once preparing, nobody cancels; a customer may cancel an unpaid order.
    for token in [&alice, &employee, &admin] {
        let late = bar
            .orders
            .cancel_order(authed(
                CancelOrderRequest {
                    order_id: order.id.clone(),
                    reason: String::new(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(late.code(), Code::FailedPrecondition);
    }
    let unpaid = bar
        .place(&bob, vec![SnackBar::item(&bar.burger, 1)])
        .await
        .unwrap()
        .order
        .unwrap();
    let cancelled = bar
        .orders
        .cancel_order(authed(
            CancelOrderRequest {
                order_id: unpaid.id.clone(),
                reason: String::new(),
            },
            &bob,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled as i32);
}

#[tokio::test]
async fn the_menu_and_the_webhook_work_as_json_through_the_edge() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let edge = app.edge().await;

    let menu = edge.get("/v1/menu", None).await;
    assert_eq!(menu.status, 200, "{:?}", menu.json);
    assert!(
        menu.json["sections"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );

    // As MercadoPago posts it: query parameters, a JSON body, signed headers.
    let txid = txid(&payment);
    let request_id = uuid::Uuid::new_v4().to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let manifest = signature::manifest(
        &txid,
        &request_id,
        &ts,
        &Local::signed_extra(local::APPROVED),
    );
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/payments/notifications?data.id={txid}&type=payment",
            edge.url
        ))
        .header(
            "x-signature",
            signature::header(SECRET.as_bytes(), &ts, &manifest),
        )
        .header("x-request-id", &request_id)
        .json(&serde_json::json!({
            "action": local::APPROVED,
            "api_version": "v1",
            "data": {"id": txid},
            "date_created": "2026-11-01T12:00:00Z",
            "id": 12_345,
            "live_mode": false,
            "type": "payment",
            "user_id": "44444",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "NOTIFICATION_OUTCOME_APPLIED", "{body}");
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    edge.stop().await;
}

#[tokio::test]
async fn the_demo_menu_loads_through_the_api_and_twice_changes_nothing() {
    let app = spawn(|_| {}).await;
    malha::cli::seed::demo(&app.url).await.unwrap();
    malha::cli::seed::snack_bar_menu(&app.url).await.unwrap();
    let mut orders = OrdersServiceClient::new(app.channel().await);
    let first = orders
        .get_menu(GetMenuRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = first
        .sections
        .iter()
        .map(|s| s.category.as_ref().unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["Lanche", "Acompanhamento", "Bebida", "Sobremesa"]);
    assert!(first.sections.iter().all(|s| !s.products.is_empty()));
    malha::cli::seed::snack_bar_menu(&app.url).await.unwrap();
    let again = orders
        .get_menu(GetMenuRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
}

/// Statuses from a WatchOrder message in proto3 JSON: the first carries the
/// order and its history, the next ones one change each.
fn json_statuses(message: &serde_json::Value) -> Vec<String> {
    match message.get("change") {
        Some(change) => vec![change["toStatus"].as_str().unwrap_or_default().to_owned()],
        None => message["order"]["history"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| h["toStatus"].as_str().unwrap_or_default().to_owned())
            .collect(),
    }
}

#[tokio::test]
async fn order_tracking_as_server_sent_events_matches_the_grpc_stream() {
    use futures::StreamExt;

    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let edge = app.edge().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;

    // A gRPC client and an SSE client watch the same order.
    let mut grpc = bar
        .orders
        .watch_order(authed(
            WatchOrderRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap()
        .into_inner();
    let grpc_seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = grpc.message().await.unwrap() {
            match message.change {
                None => seen.extend(statuses(&message.order.unwrap().history)),
                Some(change) => seen.push(OrderStatus::try_from(change.to_status).unwrap()),
            }
        }
        seen.into_iter()
            .map(|s| s.as_str_name().to_owned())
            .collect::<Vec<_>>()
    });
    let sse = reqwest::Client::new()
        .get(format!("{}/v1/orders/{}:watch", edge.url, order.id))
        .header("authorization", format!("Bearer {customer}"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(
        sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let sse_seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buffer = String::new();
        let mut body = sse.bytes_stream();
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                for data in event.lines().filter_map(|l| l.strip_prefix("data:")) {
                    let message: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                    seen.extend(json_statuses(&message));
                }
            }
        }
        seen
    });

    bar.notify(
        &txid(&payment),
        local::APPROVED,
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    for status in [
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::Delivered,
    ] {
        bar.kitchen(&admin, &order.id, status).await.unwrap();
    }

    let grpc_seen = tokio::time::timeout(WAIT, grpc_seen)
        .await
        .unwrap()
        .unwrap();
    let sse_seen = tokio::time::timeout(WAIT, sse_seen).await.unwrap().unwrap();
    assert_eq!(
        grpc_seen,
        [
            "ORDER_STATUS_RECEIVED",
            "ORDER_STATUS_AWAITING_PAYMENT",
            "ORDER_STATUS_PAID",
            "ORDER_STATUS_PREPARING",
            "ORDER_STATUS_READY",
            "ORDER_STATUS_DELIVERED",
        ]
    );
    assert_eq!(sse_seen, grpc_seen, "SSE saw what the gRPC client saw");
}
