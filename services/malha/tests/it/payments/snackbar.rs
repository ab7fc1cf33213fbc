//! Payments in the snack bar: webhooks (forged, replayed, stale, unknown),
//! rejections, hand confirmation and the tamper-evident log, refunds, an
//! outage of payments, expiry, and the MercadoPago provider against a fake.

use super::*;

#[tokio::test]
async fn forged_replayed_stale_or_unknown_notifications_change_nothing() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let txid = txid(&payment);
    let now = chrono::Utc::now().timestamp();

    let forged = bar
        .notify_signed(&txid, local::APPROVED, "forged-1", "guessed secret", now)
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);
    let stale = bar
        .notify_signed(&txid, local::APPROVED, "stale-1", SECRET, now - 3600)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Unauthenticated);
    let mut unsigned = Request::new(posted(local::APPROVED, &txid));
    unsigned
        .metadata_mut()
        .insert("x-request-id", "unsigned-1".parse().unwrap());
    assert_eq!(
        bar.payments
            .handle_notification(unsigned)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    // A signature made for a rejection does not turn into an approval.
    let ts = now.to_string();
    let manifest = signature::manifest(&txid, "swap-1", &ts, &Local::signed_extra(local::REJECTED));
    let mut swapped = Request::new(posted(local::APPROVED, &txid));
    let header = signature::header(SECRET.as_bytes(), &ts, &manifest);
    swapped
        .metadata_mut()
        .insert("x-signature", header.parse().unwrap());
    swapped
        .metadata_mut()
        .insert("x-request-id", "swap-1".parse().unwrap());
    assert_eq!(
        bar.payments
            .handle_notification(swapped)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let unknown = bar
        .notify("NOSUCHPAYMENT", local::APPROVED, "unknown-1")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    assert_eq!(
        bar.payment_status(&payment.payment_id).await,
        PaymentStatus::Pending
    );
    let log = bar.transactions(&payment.payment_id).await;
    assert_eq!(log.len(), 1, "only `created`: {log:?}");
    assert_eq!(
        bar.get(&customer, &order.id).await.unwrap().status,
        OrderStatus::AwaitingPayment as i32
    );

    // The genuine one counts once; its replay is acknowledged and ignored.
    let applied = bar
        .notify(&txid, local::APPROVED, "genuine-1")
        .await
        .unwrap();
    assert_eq!(applied.outcome, NotificationOutcome::Applied as i32);
    let replayed = bar
        .notify(&txid, local::APPROVED, "genuine-1")
        .await
        .unwrap();
    assert_eq!(replayed.outcome, NotificationOutcome::Duplicate as i32);
    let kinds: Vec<TransactionKind> = bar
        .transactions(&payment.payment_id)
        .await
        .iter()
        .map(|t| TransactionKind::try_from(t.kind).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            TransactionKind::Created,
            TransactionKind::Notified,
            TransactionKind::Approved
        ]
    );
    let paid = bar.wait_for(&order.id, OrderStatus::Paid).await;
    // Another (late) approval of the same payment moves nothing again.
    let late = bar
        .notify(&txid, local::APPROVED, "genuine-2")
        .await
        .unwrap();
    assert_eq!(late.outcome, NotificationOutcome::Recorded as i32);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = bar.get(&customer, &order.id).await.unwrap();
    assert_eq!(still.history.len(), paid.history.len());
    assert_eq!(
        statuses(&still.history)
            .iter()
            .filter(|s| **s == OrderStatus::Paid)
            .count(),
        1
    );
}

#[tokio::test]
async fn only_orders_creates_payments_naming_the_customer_who_pays() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;

    // A customer cannot create a payment, not even for their own order.
    let refused = bar
        .payments
        .create_payment(authed(
            CreatePaymentRequest {
                order_id: order.id.clone(),
                amount_centavos: 1,
                description: "a bargain".into(),
                request_id: String::new(),
                payer_id: String::new(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Orders created it as itself, naming the customer as the payer: the
    // customer reads it, another customer does not see it.
    let me = bar
        .identity
        .get_me(authed(GetMeRequest {}, &customer))
        .await
        .unwrap()
        .into_inner()
        .claims
        .unwrap();
    let read = bar
        .payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: payment.payment_id.clone(),
            },
            &customer,
        ))
        .await
        .expect("the customer reads their payment")
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(read.payer_id, me.subject);
    let stranger = bar.customer().await;
    let hidden = bar
        .payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: payment.payment_id.clone(),
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let created = bar.transactions(&payment.payment_id).await.remove(0);
    assert_eq!(created.actor, "service:orders", "{created:?}");
}

#[tokio::test]
async fn orders_alone_without_a_service_account_refuses_to_start_and_says_how() {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    config.auth.identity_url = Some("http://127.0.0.1:9".into());
    config
        .services
        .get_mut::<malha_orders::OrdersConfig>()
        .payments_url = Some("http://127.0.0.1:9".into());
    let error = app::start(&config, &targets::resolve("orders").unwrap())
        .await
        .err()
        .expect("orders without identity or a service account does not start");
    let message = format!("{error:#}");
    assert!(
        message.contains("MALHA_CLIENT_ID") && message.contains("MALHA_CLIENT_SECRET"),
        "{message}"
    );
}

#[tokio::test]
async fn a_rejected_payment_sends_the_order_back_for_a_new_one() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let rejected = bar
        .notify(&txid(&payment), local::REJECTED, "reject-1")
        .await
        .unwrap();
    assert_eq!(rejected.status, PaymentStatus::Rejected as i32);
    bar.wait_for(&order.id, OrderStatus::Received).await;

    let again = bar
        .orders
        .request_payment(authed(
            RequestPaymentRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .expect("a new payment may be requested")
        .into_inner();
    let second = again.payment.unwrap();
    assert_ne!(second.payment_id, payment.payment_id);
    assert_eq!(
        again.order.unwrap().status,
        OrderStatus::AwaitingPayment as i32
    );
    // The old payment's code no longer pays the order.
    let stale = bar
        .notify(&txid(&payment), local::APPROVED, "old-1")
        .await
        .unwrap();
    assert_eq!(stale.outcome, NotificationOutcome::Recorded as i32);
    bar.notify(&txid(&second), local::APPROVED, "new-1")
        .await
        .unwrap();
    bar.wait_for(&order.id, OrderStatus::Paid).await;
}

#[tokio::test]
async fn confirming_by_hand_is_idempotent_and_editing_the_log_is_detected() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let (_, other) = bar.order(&customer).await;
    for _ in 0..2 {
        let confirmed = bar
            .payments
            .confirm_payment(authed(
                ConfirmPaymentRequest {
                    payment_id: payment.payment_id.clone(),
                    // Multi-byte text: the link counts bytes, not characters.
                    note: "visto no app do banco — conferido às 14h".into(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        assert_eq!(confirmed.status, PaymentStatus::Approved as i32);
    }
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    let approvals = bar
        .transactions(&payment.payment_id)
        .await
        .into_iter()
        .filter(|t| t.kind == TransactionKind::Approved as i32)
        .count();
    assert_eq!(approvals, 1);

    let verify = |mut payments: PaymentsServiceClient<Channel>, admin: String| async move {
        payments
            .verify_ledger(authed(VerifyLedgerRequest {}, &admin))
            .await
            .unwrap()
            .into_inner()
    };
    let intact = verify(bar.payments.clone(), admin.clone()).await;
    assert!(intact.intact, "{intact:?}");
    assert_eq!(intact.entries_checked, 3);

    // In normal operation the log refuses edits...
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let target = bar.transactions(&other.payment_id).await.remove(0);
    let refused =
        sqlx::query("UPDATE payments.transactions SET amount_centavos = 1 WHERE id = $1::uuid")
            .bind(&target.id)
            .execute(&db)
            .await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    // ...and when a superuser forces one, VerifyLedger points at it.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("ALTER TABLE payments.transactions DISABLE TRIGGER transactions_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE payments.transactions SET amount_centavos = 1 WHERE id = $1::uuid")
        .bind(&target.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE payments.transactions ENABLE TRIGGER transactions_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let broken = verify(bar.payments.clone(), admin.clone()).await;
    assert!(!broken.intact);
    assert_eq!(broken.broken_sequence, target.sequence);
    assert_eq!(broken.broken_transaction_id, target.id);
    assert!(broken.problem.contains("edited"), "{}", broken.problem);
}

/// Appends are chained at commit, under the head's lock: payments created
/// and settled at once still make one log, 1..N without gaps, each payment's
/// entries in the order they happened.
#[tokio::test]
async fn concurrent_payments_chain_one_gapless_log_each_in_its_order() {
    const ORDERS: usize = 24;
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let paid = futures::future::join_all((0..ORDERS).map(|i| {
        let mut bar = bar.clone();
        async move {
            let customer = bar.customer().await;
            let (order, payment) = bar.order(&customer).await;
            let reply = bar
                .notify(&txid(&payment), local::APPROVED, &format!("concurrent-{i}"))
                .await
                .unwrap();
            assert_eq!(reply.outcome, NotificationOutcome::Applied as i32);
            (order, payment)
        }
    }))
    .await;

    let mut bar = bar;
    let mut sequences = Vec::new();
    for (order, payment) in &paid {
        bar.wait_for(&order.id, OrderStatus::Paid).await;
        let entries = bar.transactions(&payment.payment_id).await;
        let kinds: Vec<i32> = entries.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                TransactionKind::Created as i32,
                TransactionKind::Notified as i32,
                TransactionKind::Approved as i32
            ]
        );
        assert!(entries.windows(2).all(|w| w[0].sequence < w[1].sequence));
        sequences.extend(entries.iter().map(|t| t.sequence));
    }
    sequences.sort_unstable();
    let all = i64::try_from(3 * ORDERS).unwrap();
    assert_eq!(sequences, (1..=all).collect::<Vec<_>>());
    let check = bar
        .payments
        .verify_ledger(authed(VerifyLedgerRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert!(check.intact, "{check:?}");
    assert_eq!(check.entries_checked, all);
}

#[tokio::test]
async fn a_refund_is_refused_before_approval_then_logged_and_published_once() {
    let app = spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let refund = |reason: &str| {
        authed(
            RefundPaymentRequest {
                payment_id: payment.payment_id.clone(),
                reason: reason.into(),
            },
            &admin,
        )
    };

    // Nothing was paid yet: nothing to refund.
    let early = bar.payments.refund_payment(refund("too early")).await;
    assert_eq!(early.unwrap_err().code(), Code::FailedPrecondition);

    bar.payments
        .confirm_payment(authed(
            ConfirmPaymentRequest {
                payment_id: payment.payment_id.clone(),
                note: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap();
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    for _ in 0..2 {
        let refunded = bar
            .payments
            .refund_payment(refund("burger was cold"))
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        assert_eq!(refunded.status, PaymentStatus::Refunded as i32);
    }
    let refunds = bar
        .transactions(&payment.payment_id)
        .await
        .into_iter()
        .filter(|t| t.kind == TransactionKind::Refunded as i32)
        .count();
    assert_eq!(refunds, 1, "a repeated refund changes nothing");

    // One PaymentRefunded in the outbox, and it reaches the bus.
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let published: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payments.outbox WHERE subject = 'payments.payment.refunded'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(published, 1);
    let js = async_nats::jetstream::new(async_nats::connect(app.nats.url()).await.unwrap());
    let stream = js.get_stream("EVENTS_PAYMENTS").await.unwrap();
    let message = eventually("the refund on the bus", WAIT, || {
        let stream = stream.clone();
        async move {
            stream
                .get_last_raw_message_by_subject("payments.payment.refunded")
                .await
                .ok()
        }
    })
    .await;
    let envelope =
        <malha_kit::events::Envelope as prost::Message>::decode(message.payload).unwrap();
    let event: PaymentRefunded = malha_kit::events::open(&envelope).unwrap();
    assert_eq!(event.payment_id, payment.payment_id);
    assert_eq!(event.order_id, order.id);
    assert_eq!(event.amount_centavos, order.total_centavos);
    assert_eq!(event.reason, "burger was cold");
    assert!(event.refund_time.is_some());
}

#[tokio::test]
async fn when_payments_is_down_the_order_stays_received_and_payment_is_requested_later() {
    let port = malha_testkit::free_port();
    let app = spawn(|c| {
        c.services
            .get_mut::<malha_orders::OrdersConfig>()
            .payments_url = Some(format!("http://127.0.0.1:{port}"))
    })
    .await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;

    let placed = bar
        .place(&customer, vec![SnackBar::item(&bar.burger, 1)])
        .await
        .expect("the order is placed even though payments is down");
    assert!(placed.payment.is_none());
    let order = placed.order.unwrap();
    assert_eq!(order.status, OrderStatus::Received as i32);
    assert_eq!(order.history.len(), 1);
    let retry = bar
        .orders
        .request_payment(authed(
            RequestPaymentRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(retry.code(), Code::Unavailable);
    assert_eq!(
        bar.get(&customer, &order.id).await.unwrap().status,
        OrderStatus::Received as i32
    );

    // Payments comes up where orders expects it; asking again works.
    let payments = replica(&app, "payments", port).await;
    let paid = bar
        .orders
        .request_payment(authed(
            RequestPaymentRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .expect("payments is back")
        .into_inner();
    let payment = paid.payment.unwrap();
    assert_eq!(payment.amount_centavos, 2490);
    assert_eq!(
        paid.order.unwrap().status,
        OrderStatus::AwaitingPayment as i32
    );
    bar.notify(&txid(&payment), local::APPROVED, "after-outage")
        .await
        .unwrap();
    bar.wait_for(&order.id, OrderStatus::Paid).await;
    payments.shutdown();
    payments.wait().await.unwrap();
}

#[tokio::test]
async fn an_unpaid_payment_expires_and_cancels_its_order() {
    let app = spawn(|c| {
        c.services
            .get_mut::<malha_payments::PaymentsConfig>()
            .payment_expiry_seconds = 1;
        c.services
            .get_mut::<malha_payments::PaymentsConfig>()
            .payment_expiry_sweep_ms = 200;
    })
    .await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, payment) = bar.order(&customer).await;
    let cancelled = bar.wait_for(&order.id, OrderStatus::Cancelled).await;
    assert_eq!(cancelled.history.last().unwrap().reason, "payment expired");
    assert_eq!(
        bar.payment_status(&payment.payment_id).await,
        PaymentStatus::Expired
    );
    let late = bar
        .notify(&txid(&payment), local::APPROVED, "too-late")
        .await
        .unwrap();
    assert_eq!(late.outcome, NotificationOutcome::Recorded as i32);
    assert_eq!(
        bar.get(&customer, &order.id).await.unwrap().status,
        OrderStatus::Cancelled as i32
    );
}

#[tokio::test]
async fn the_mercadopago_provider_takes_the_same_flow_against_a_fake() {
    let fake = FakeMercadoPago::start().await.unwrap();
    let base_url = fake.base_url.clone();
    let app = spawn(move |c| {
        c.services
            .get_mut::<malha_payments::PaymentsConfig>()
            .payment_provider = "mercadopago".into();
        c.services
            .get_mut::<malha_payments::PaymentsConfig>()
            .mercadopago_base_url = base_url;
        c.services
            .get_mut::<malha_payments::PaymentsConfig>()
            .mercadopago_access_token = Some(Secret::new(ACCESS_TOKEN));
    })
    .await;
    let admin = app.admin_token().await;
    let mut bar = SnackBar::open(&app.url, &admin, SECRET).await;
    let customer = bar.customer().await;
    let (order, instructions) = bar.order(&customer).await;
    assert_eq!(instructions.provider, "mercadopago");
    brcode::check_crc(&instructions.pix_code).unwrap();
    let payment = bar
        .payments
        .get_payment(authed(
            GetPaymentRequest {
                payment_id: instructions.payment_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let created = fake.created_with(&payment.provider_payment_id).unwrap();
    assert_eq!(created["external_reference"], payment.id);
    assert_eq!(created["transaction_amount"], 33.9);

    // A notification while MercadoPago still says pending is recorded only.
    let (sig, rid) = FakeMercadoPago::sign(SECRET, &payment.provider_payment_id, "mp-1");
    let pending = mercadopago_notify(&mut bar.payments, &payment.provider_payment_id, &sig, &rid)
        .await
        .unwrap();
    assert_eq!(pending.outcome, NotificationOutcome::Recorded as i32);
    // A forged one is refused before MercadoPago is even asked.
    let (forged, rid) =
        FakeMercadoPago::sign("not the secret", &payment.provider_payment_id, "mp-2");
    let refused = mercadopago_notify(
        &mut bar.payments,
        &payment.provider_payment_id,
        &forged,
        &rid,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    fake.set_status(&payment.provider_payment_id, "approved");
    let (sig, rid) = FakeMercadoPago::sign(SECRET, &payment.provider_payment_id, "mp-3");
    let approved = mercadopago_notify(&mut bar.payments, &payment.provider_payment_id, &sig, &rid)
        .await
        .unwrap();
    assert_eq!(approved.outcome, NotificationOutcome::Applied as i32);
    bar.wait_for(&order.id, OrderStatus::Paid).await;
}

async fn mercadopago_notify(
    payments: &mut PaymentsServiceClient<Channel>,
    data_id: &str,
    signature: &str,
    request_id: &str,
) -> Result<HandleNotificationResponse, Status> {
    // As MercadoPago posts it: `data.id` and `type` in the URL and the body.
    let mut request = Request::new(HandleNotificationRequest {
        data: Some(NotificationData { id: data_id.into() }),
        r#type: "payment".into(),
        notification: Some(Notification {
            id: 12_345,
            live_mode: false,
            api_version: "v1".into(),
            ..posted("payment.updated", data_id).notification.unwrap()
        }),
    });
    request
        .metadata_mut()
        .insert("x-signature", signature.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    payments
        .handle_notification(request)
        .await
        .map(tonic::Response::into_inner)
}
