//! The snack bar (lanchonete) through real PostgreSQL, NATS JetStream and
//! gRPC: menu, server-priced orders, Pix payments (BR Code parsed back, CRC
//! checked), signed webhooks, payment events moving orders exactly once, the
//! kitchen, live tracking across replicas, the hash-chained transaction log,
//! a payments outage, expiry, the MercadoPago provider against a fake, and
//! who may do what.

use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::helpers::{TestApp, authed, config, eventually, violated_fields};
use malha::{app, targets};
use malha_api::identity::CreateAnonymousCustomerRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::*;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::payments::v1::{
    ConfirmPaymentRequest, GetPaymentRequest, HandleNotificationRequest,
    HandleNotificationResponse, ListTransactionsRequest, Notification, NotificationData,
    NotificationOutcome, PaymentStatus, Transaction, TransactionKind, VerifyLedgerRequest,
};
use malha_kit::config::{Secret, ServeConfig};
use malha_payments::brcode::{self, BrCode};
use malha_payments::domain::signature;
use malha_payments::provider::local::{self, Local};
use malha_payments::testing::{ACCESS_TOKEN, FakeMercadoPago};

const SECRET: &str = "snack-bar-webhook-secret";
const WAIT: Duration = Duration::from_secs(20);

/// A snack bar with its own menu (unique names, so it coexists with demo
/// data), clients, and the admin's token.
pub(crate) struct SnackBar {
    admin: String,
    secret: String,
    identity: IdentityServiceClient<Channel>,
    orders: OrdersServiceClient<Channel>,
    payments: PaymentsServiceClient<Channel>,
    burger: Product,
    juice: Product,
    pie: Product,
}

impl SnackBar {
    /// Creates a category and three products (the pie sold out) as `admin`.
    pub(crate) async fn open(url: &str, admin: &str, secret: &str) -> Self {
        let channel = Channel::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut orders = OrdersServiceClient::new(channel.clone());
        let tag = &uuid::Uuid::now_v7().simple().to_string()[20..];
        let category = orders
            .create_category(authed(
                CreateCategoryRequest {
                    category: Some(Category {
                        name: format!("Lanche {tag}"),
                        description: "snack".into(),
                        position: 1,
                        ..Default::default()
                    }),
                    request_id: uuid::Uuid::now_v7().to_string(),
                },
                admin,
            ))
            .await
            .expect("admin creates a category")
            .into_inner()
            .category
            .unwrap();
        let product = |name: &str, price: i64, available: bool| {
            let mut orders = orders.clone();
            let request = CreateProductRequest {
                product: Some(Product {
                    category_id: category.id.clone(),
                    name: format!("{name} {tag}"),
                    description: name.into(),
                    price_centavos: price,
                    image_url: "https://cdn.example.com/menu.png".into(),
                    available,
                    ..Default::default()
                }),
                request_id: String::new(),
            };
            let admin = admin.to_owned();
            async move {
                orders
                    .create_product(authed(request, &admin))
                    .await
                    .expect("admin creates a product")
                    .into_inner()
                    .product
                    .unwrap()
            }
        };
        let burger = product("X-Burger", 2490, true).await;
        let juice = product("Suco de laranja", 900, true).await;
        let pie = product("Torta de limão", 1100, false).await;
        Self {
            admin: admin.to_owned(),
            secret: secret.to_owned(),
            identity: IdentityServiceClient::new(channel.clone()),
            payments: PaymentsServiceClient::new(channel),
            orders,
            burger,
            juice,
            pie,
        }
    }

    /// A new anonymous customer's token.
    async fn customer(&mut self) -> String {
        self.identity
            .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
            .await
            .unwrap()
            .into_inner()
            .tokens
            .unwrap()
            .access_token
    }

    fn item(product: &Product, quantity: i32) -> OrderItem {
        OrderItem {
            product_id: product.id.clone(),
            quantity,
            ..Default::default()
        }
    }

    async fn place(
        &mut self,
        token: &str,
        items: Vec<OrderItem>,
    ) -> Result<CreateOrderResponse, Status> {
        self.orders
            .create_order(authed(
                CreateOrderRequest {
                    items,
                    notes: String::new(),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// A burger and a juice, paid-to-be: the order and its Pix instructions.
    async fn order(&mut self, token: &str) -> (Order, PaymentInstructions) {
        let items = vec![Self::item(&self.burger, 1), Self::item(&self.juice, 1)];
        let placed = self.place(token, items).await.expect("the order is placed");
        (
            placed.order.unwrap(),
            placed.payment.expect("payments answered"),
        )
    }

    async fn get(&mut self, token: &str, id: &str) -> Result<Order, Status> {
        self.orders
            .get_order(authed(
                GetOrderRequest {
                    order_id: id.into(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().order.unwrap())
    }

    async fn wait_for(&mut self, id: &str, status: OrderStatus) -> Order {
        let admin = self.admin.clone();
        let orders = self.orders.clone();
        eventually(&format!("order {id} to become {status:?}"), WAIT, || {
            let mut orders = orders.clone();
            let admin = admin.clone();
            async move {
                let order = orders
                    .get_order(authed(
                        GetOrderRequest {
                            order_id: id.into(),
                        },
                        &admin,
                    ))
                    .await
                    .ok()?
                    .into_inner()
                    .order?;
                (order.status == status as i32).then_some(order)
            }
        })
        .await
    }

    async fn kitchen(
        &mut self,
        token: &str,
        id: &str,
        status: OrderStatus,
    ) -> Result<Order, Status> {
        self.orders
            .update_order_status(authed(
                UpdateOrderStatusRequest {
                    order_id: id.into(),
                    status: status as i32,
                    reason: String::new(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().order.unwrap())
    }

    /// A provider notification, signed with `secret` at `ts` as the local
    /// provider expects (its stated `action` is covered by the signature).
    async fn notify_signed(
        &mut self,
        data_id: &str,
        action: &str,
        request_id: &str,
        secret: &str,
        ts: i64,
    ) -> Result<HandleNotificationResponse, Status> {
        let ts = ts.to_string();
        let manifest = signature::manifest(data_id, request_id, &ts, &Local::signed_extra(action));
        let mut request = Request::new(posted(action, data_id));
        let header = signature::header(secret.as_bytes(), &ts, &manifest);
        request
            .metadata_mut()
            .insert("x-signature", header.parse().unwrap());
        request
            .metadata_mut()
            .insert("x-request-id", request_id.parse().unwrap());
        self.payments
            .handle_notification(request)
            .await
            .map(tonic::Response::into_inner)
    }

    async fn notify(
        &mut self,
        data_id: &str,
        action: &str,
        request_id: &str,
    ) -> Result<HandleNotificationResponse, Status> {
        let secret = self.secret.clone();
        self.notify_signed(
            data_id,
            action,
            request_id,
            &secret,
            chrono::Utc::now().timestamp(),
        )
        .await
    }

    async fn transactions(&mut self, payment_id: &str) -> Vec<Transaction> {
        self.payments
            .list_transactions(authed(
                ListTransactionsRequest {
                    payment_id: payment_id.into(),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .transactions
    }

    async fn payment_status(&mut self, payment_id: &str) -> PaymentStatus {
        let payment = self
            .payments
            .get_payment(authed(
                GetPaymentRequest {
                    payment_id: payment_id.into(),
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        PaymentStatus::try_from(payment.status).unwrap()
    }
}

/// A notification body about `data_id` stating `action`.
fn posted(action: &str, data_id: &str) -> HandleNotificationRequest {
    HandleNotificationRequest {
        notification: Some(Notification {
            r#type: "payment".into(),
            action: action.into(),
            data: Some(NotificationData { id: data_id.into() }),
            date_created: chrono::Utc::now().to_rfc3339(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The local provider names a payment by its txid, which the Pix code carries.
fn txid(payment: &PaymentInstructions) -> String {
    BrCode::parse(&payment.pix_code).unwrap().txid
}

fn statuses(history: &[StatusChange]) -> Vec<OrderStatus> {
    history
        .iter()
        .map(|h| OrderStatus::try_from(h.to_status).unwrap())
        .collect()
}

/// Every target over a fresh database, with the webhook secret set and
/// `tune` applied to the configuration.
async fn spawn(tune: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    config.payments.webhook_secret = Some(Secret::new(SECRET));
    tune(&mut config);
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    app
}

/// Starts `targets` alone as another replica over `app`'s database and bus,
/// on `port` (0: any), with identity (and payments) reached at `app`.
async fn replica(app: &TestApp, targets: &str, port: u16) -> malha_kit::server::RunningServer {
    let mut config = config(&app.database_url, &app.nats.url());
    config.grpc_addr = format!("127.0.0.1:{port}").parse().unwrap();
    config.auth.identity_url = Some(app.url.clone());
    config.orders.payments_url = Some(app.url.clone());
    config.payments.webhook_secret = Some(Secret::new(SECRET));
    let server = app::start(&config, &targets::resolve(targets).unwrap())
        .await
        .expect("the replica starts");
    malha::cli::up::wait_until_serving(
        &crate::helpers::url(server.grpc_addr),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    server
}

/// The flow, through whatever Malha serves at `url` (in process, or
/// the real binary): an anonymous customer reads the menu and orders; the
/// Pix code parses back with a valid CRC; the payer's bank notifies the
/// webhook; the order reaches PAID through the event; the kitchen delivers
/// it; a stream opened at the start saw every status in order.
pub(crate) async fn snack_bar_flow(url: &str, admin: &str, webhook_secret: &str) {
    let mut bar = SnackBar::open(url, admin, webhook_secret).await;
    let customer = bar.customer().await;

    // The menu is public: no token needed.
    let menu = bar
        .orders
        .get_menu(GetMenuRequest {})
        .await
        .unwrap()
        .into_inner();
    let on_menu: Vec<&Product> = menu.sections.iter().flat_map(|s| &s.products).collect();
    assert!(on_menu.iter().any(|p| p.id == bar.burger.id));
    assert!(
        on_menu.iter().all(|p| p.id != bar.pie.id),
        "sold-out products are not on the menu"
    );

    // Two burgers (one without onions) and a juice; the client's prices are ignored.
    let mut tampered = SnackBar::item(&bar.burger, 2);
    tampered.unit_price_centavos = 1;
    tampered.line_total_centavos = 2;
    tampered.notes = "sem cebola".into();
    let placed = bar
        .place(&customer, vec![tampered, SnackBar::item(&bar.juice, 1)])
        .await
        .expect("the customer orders");
    let order = placed.order.unwrap();
    let payment = placed.payment.expect("payments answered with the Pix code");
    assert_eq!(order.total_centavos, 2 * 2490 + 900);
    assert_eq!(order.items[0].unit_price_centavos, 2490);
    assert_eq!(order.items[0].notes, "sem cebola");
    assert_eq!(order.status, OrderStatus::AwaitingPayment as i32);
    assert_eq!(order.payment_id, payment.payment_id);

    // The Pix code is a BR Code whose CRC validates and that parses back.
    brcode::check_crc(&payment.pix_code).expect("the CRC16 of the payload matches");
    let code = BrCode::parse(&payment.pix_code).expect("the payload parses field by field");
    assert_eq!(code.amount_centavos, Some(order.total_centavos));
    assert_eq!(
        (code.currency.as_str(), code.country.as_str()),
        ("986", "BR")
    );
    assert!(code.key.is_some());
    assert_eq!(&payment.qr_png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(payment.qr_svg.contains("<svg"));

    let mut watch = bar
        .orders
        .watch_order(authed(
            WatchOrderRequest {
                order_id: order.id.clone(),
            },
            &customer,
        ))
        .await
        .expect("the customer watches the order")
        .into_inner();
    let watched = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = watch.message().await.expect("the stream ends cleanly") {
            match message.change {
                None => seen.extend(statuses(&message.order.unwrap().history)),
                Some(change) => seen.push(OrderStatus::try_from(change.to_status).unwrap()),
            }
        }
        seen
    });

    // The payer's bank confirms; the signed webhook counts; the event pays the order.
    let notified = bar
        .notify(
            &txid(&payment),
            local::APPROVED,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
        .expect("a signed notification is accepted");
    assert_eq!(notified.outcome, NotificationOutcome::Applied as i32);
    assert_eq!(notified.status, PaymentStatus::Approved as i32);
    bar.wait_for(&order.id, OrderStatus::Paid).await;

    // The kitchen takes it from there.
    let kitchen = bar
        .orders
        .list_kitchen_orders(authed(ListKitchenOrdersRequest::default(), admin))
        .await
        .unwrap()
        .into_inner()
        .orders;
    assert!(kitchen.iter().any(|o| o.id == order.id));
    for status in [
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::Delivered,
    ] {
        bar.kitchen(admin, &order.id, status)
            .await
            .expect("the kitchen moves the order");
    }

    let seen = tokio::time::timeout(WAIT, watched)
        .await
        .expect("the stream ends after DELIVERED")
        .unwrap();
    assert_eq!(
        seen,
        [
            OrderStatus::Received,
            OrderStatus::AwaitingPayment,
            OrderStatus::Paid,
            OrderStatus::Preparing,
            OrderStatus::Ready,
            OrderStatus::Delivered,
        ]
    );
    let done = bar.get(&customer, &order.id).await.unwrap();
    let actors: Vec<&str> = done
        .history
        .iter()
        .map(|h| h.actor.split(':').next().unwrap())
        .collect();
    assert_eq!(
        actors,
        ["customer", "customer", "service", "user", "user", "user"]
    );
    let times: Vec<(i64, i32)> = done
        .history
        .iter()
        .map(|h| h.change_time.map(|t| (t.seconds, t.nanos)).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

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
                    note: "seen in the bank app".into(),
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

#[tokio::test]
async fn when_payments_is_down_the_order_stays_received_and_payment_is_requested_later() {
    let port = malha_testkit::free_port();
    let app = spawn(|c| c.orders.payments_url = Some(format!("http://127.0.0.1:{port}"))).await;
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
async fn an_unpaid_payment_expires_and_cancels_its_order() {
    let app = spawn(|c| {
        c.payments.payment_expiry_seconds = 1;
        c.payments.payment_expiry_sweep_ms = 200;
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
        c.payments.payment_provider = "mercadopago".into();
        c.payments.mercadopago_base_url = base_url;
        c.payments.mercadopago_access_token = Some(Secret::new(ACCESS_TOKEN));
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
