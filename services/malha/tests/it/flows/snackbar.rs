//! The snack bar (lanchonete) through real PostgreSQL, NATS JetStream and
//! gRPC: menu, server-priced orders, Pix payments (BR Code parsed back, CRC
//! checked), signed webhooks, payment events moving orders exactly once, the
//! kitchen, live tracking across replicas, the hash-chained transaction log,
//! a payments outage, expiry, the MercadoPago provider against a fake, and
//! who may do what.

// The snack bar's orders and payments tests live in their services' folders
// but are children of this module: they use the snack bar's private fixture.
#[path = "../orders/identified_session.rs"]
mod identified_session;
#[path = "../orders/snackbar.rs"]
mod orders;
#[path = "../payments/snackbar.rs"]
mod payments;

use std::time::Duration;

use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use crate::helpers::{TestApp, authed, config, eventually, violated_fields};
use malha::{app, targets};
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{CreateAnonymousCustomerRequest, GetMeRequest};
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::*;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::payments::v1::{
    ConfirmPaymentRequest, CreatePaymentRequest, GetPaymentRequest, HandleNotificationRequest,
    HandleNotificationResponse, ListTransactionsRequest, Notification, NotificationData,
    NotificationOutcome, PaymentRefunded, PaymentStatus, RefundPaymentRequest, Transaction,
    TransactionKind, VerifyLedgerRequest,
};
use malha_kit::config::{Secret, ServeConfig};
use malha_payments::brcode::{self, BrCode};
use malha_payments::domain::signature;
use malha_payments::provider::local::{self, Local};
use malha_payments::testing::{ACCESS_TOKEN, FakeMercadoPago};

pub(crate) const SECRET: &str = "snack-bar-webhook-secret";
const WAIT: Duration = Duration::from_secs(20);

/// A snack bar with its own menu (unique names, so it coexists with demo
/// data), clients, and the admin's token.
#[derive(Clone)]
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
pub(crate) async fn spawn(tune: impl FnOnce(&mut ServeConfig)) -> TestApp {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    config
        .services
        .get_mut::<malha_payments::PaymentsConfig>()
        .webhook_secret = Some(Secret::new(SECRET));
    tune(&mut config);
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    app
}

/// Starts `targets` alone as another replica over `app`'s database and bus,
/// on `port` (0: any), with identity (and payments) reached at `app`; orders
/// calls payments with a service account of its own.
async fn replica(app: &TestApp, targets: &str, port: u16) -> malha_kit::server::RunningServer {
    let mut config = config(&app.database_url, &app.nats.url());
    let admin = app.admin_token().await;
    let name = format!("orders replica {}", uuid::Uuid::now_v7());
    let account = app.service_account(&admin, &name).await;
    config.auth.client_id = Some(account.client_id);
    config.auth.client_secret = Some(account.client_secret);
    config.grpc_addr = format!("127.0.0.1:{port}").parse().unwrap();
    config.auth.identity_url = Some(app.url.clone());
    config
        .services
        .get_mut::<malha_orders::OrdersConfig>()
        .payments_url = Some(app.url.clone());
    config
        .services
        .get_mut::<malha_payments::PaymentsConfig>()
        .webhook_secret = Some(Secret::new(SECRET));
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
