//! The steady mixed load `malha chaos` keeps running while it injects
//! faults, through the edge, by clients that retry what is safe to retry:
//! - projects that consume stock (creates with a `request_id`);
//! - product reads and logins;
//! - snack-bar orders paid by webhook: a new anonymous customer orders (a
//!   `request_id`), and the local Pix provider's signed notification
//!   approves the payment (an `x-request-id`), whose event pays the order;
//! - an order's watch stream held open, reopened whenever a fault ends it.
//!
//! Every acknowledged project and every acknowledged notification is
//! remembered, so the invariants can be checked against what the clients
//! were told.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{CreateAnonymousCustomerRequest, LoginRequest};
use malha_api::malha::inventory::v1::GetProductRequest;
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::{
    CreateOrderRequest, OrderItem, RequestPaymentRequest, WatchOrderRequest,
};
use malha_api::malha::payments::v1::NotificationOutcome;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::projects::v1::projects_service_client::ProjectsServiceClient;
use malha_api::malha::projects::v1::{CreateProjectRequest, Material, Project};
use malha_payments::brcode::BrCode;
use malha_payments::provider::local;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::super::seed::{DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME};

/// One attempt's deadline (sent as `grpc-timeout`).
pub(super) const ATTEMPT_DEADLINE: Duration = Duration::from_secs(2);
/// How long a client keeps retrying one call before it counts as failed.
const RETRY_BUDGET: Duration = Duration::from_secs(20);

/// What the clients saw, as running totals.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Calls made (a retried call counts once).
    pub calls: AtomicU64,
    /// Calls that succeeded after at least one retry.
    pub retried: AtomicU64,
    /// Attempts that failed with a retryable code.
    pub failed_attempts: AtomicU64,
    /// Calls that failed for good (a non-retryable code, or the budget spent).
    pub failed: AtomicU64,
    /// The longest failed attempt, in milliseconds: a hang shows here.
    pub slowest_failed_attempt_ms: AtomicU64,
    /// Watch streams a fault ended (an error, or the server closing it).
    pub streams_broken: AtomicU64,
    /// Watch streams opened again after one ended.
    pub streams_resumed: AtomicU64,
    /// Latency of each successful attempt since the last [`Counters::take_latencies`], µs.
    latencies: Mutex<Vec<u32>>,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub calls: u64,
    pub retried: u64,
    pub failed_attempts: u64,
    pub failed: u64,
    pub slowest_failed_attempt_ms: u64,
    pub streams_broken: u64,
    pub streams_resumed: u64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            calls: self.calls.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            slowest_failed_attempt_ms: self.slowest_failed_attempt_ms.load(Ordering::Relaxed),
            streams_broken: self.streams_broken.load(Ordering::Relaxed),
            streams_resumed: self.streams_resumed.load(Ordering::Relaxed),
        }
    }

    /// The successful attempts' latencies since the last call, in µs.
    pub(super) fn take_latencies(&self) -> Vec<u32> {
        std::mem::take(&mut *self.latencies.lock().expect("not poisoned"))
    }

    /// Starts a new window for the slowest failed attempt.
    pub(super) fn reset_slowest(&self) {
        self.slowest_failed_attempt_ms.store(0, Ordering::Relaxed);
    }
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, before: Snapshot) -> Snapshot {
        Snapshot {
            calls: self.calls - before.calls,
            retried: self.retried - before.retried,
            failed_attempts: self.failed_attempts - before.failed_attempts,
            failed: self.failed - before.failed,
            slowest_failed_attempt_ms: self.slowest_failed_attempt_ms,
            streams_broken: self.streams_broken - before.streams_broken,
            streams_resumed: self.streams_resumed - before.streams_resumed,
        }
    }
}

/// Codes a client may retry: the call did not reach a service that answered
/// (a process restarting or killed mid-call, a database or bus outage).
/// Only idempotent calls are sent, so a retry never applies anything twice.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
    )
}

/// Workers of each paced kind (project writers, product readers): enough to
/// saturate two cores through the edge when the pacer lets them run free.
const PACED_WORKERS: usize = 6;

/// A rate the paced workers share: each call waits for its slot. A rate of
/// zero lets them run free (to measure what the mix can carry).
#[derive(Debug)]
pub(super) struct Pacer {
    interval_nanos: AtomicU64,
    next: Mutex<Instant>,
}

impl Pacer {
    pub(super) fn unlimited() -> Arc<Pacer> {
        Arc::new(Pacer {
            interval_nanos: AtomicU64::new(0),
            next: Mutex::new(Instant::now()),
        })
    }

    /// From now on, `per_second` calls a second among all paced workers.
    pub(super) fn set_rate(&self, per_second: f64) {
        let nanos = (1e9 / per_second.max(0.001)) as u64;
        self.interval_nanos.store(nanos.max(1), Ordering::Relaxed);
    }

    async fn wait(&self) {
        let interval = self.interval_nanos.load(Ordering::Relaxed);
        if interval == 0 {
            tokio::task::yield_now().await;
            return;
        }
        let slot = {
            let mut next = self.next.lock().expect("not poisoned");
            let slot = (*next).max(Instant::now());
            *next = slot + Duration::from_nanos(interval);
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// Before a worker's next call: its slot of the pacer's rate, or the fixed pause.
async fn pace(pacer: Option<&Pacer>, fixed: Duration) {
    match pacer {
        Some(pacer) => pacer.wait().await,
        None => tokio::time::sleep(fixed).await,
    }
}

/// What the orders worker needs: a product on the menu, and the secret the
/// local Pix provider signs its notifications with.
#[derive(Clone)]
pub(super) struct SnackBar {
    pub menu_product: String,
    pub webhook_secret: String,
}

/// An order whose payment's approval notification was acknowledged.
#[derive(Debug, Clone)]
pub(super) struct Paid {
    pub order: String,
    pub payment: String,
}

/// The running load.
pub(super) struct Load {
    pub counters: Arc<Counters>,
    /// Ids of the projects whose creation was acknowledged.
    pub projects: Arc<Mutex<HashSet<String>>>,
    /// Orders whose approval notification was acknowledged.
    pub paid: Arc<Mutex<Vec<Paid>>>,
    /// Project writers: at most this many creates are in flight.
    pub writers: usize,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts the workers against `edge` as `token`, consuming `product`,
    /// ordering from `snack_bar`: at a gentle fixed pace, or with `pacer`
    /// more workers sharing its rate.
    pub(super) fn start(
        edge: &Channel,
        token: &str,
        product: &str,
        snack_bar: &SnackBar,
        pacer: Option<Arc<Pacer>>,
    ) -> Load {
        let counters = Arc::new(Counters::default());
        let projects = Arc::new(Mutex::new(HashSet::new()));
        let paid = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(orders_worker(
            edge.clone(),
            counters.clone(),
            paid.clone(),
            stop.clone(),
            snack_bar.clone(),
            pacer.clone(),
        )));
        tasks.push(tokio::spawn(watch_worker(
            edge.clone(),
            token.to_owned(),
            counters.clone(),
            paid.clone(),
            stop.clone(),
        )));
        let workers = if pacer.is_some() { PACED_WORKERS } else { 2 };
        for writer in 0..workers {
            let (channel, token, product) = (edge.clone(), token.to_owned(), product.to_owned());
            let (counters, projects, stop) = (counters.clone(), projects.clone(), stop.clone());
            let pacer = pacer.clone();
            tasks.push(tokio::spawn(async move {
                let client = ProjectsServiceClient::new(channel);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let request = CreateProjectRequest {
                        project: Some(Project {
                            name: format!("chaos {writer}-{n}"),
                            materials: vec![Material {
                                product_id: product.clone(),
                                product_name: "chaos stock".into(),
                                quantity: 1,
                            }],
                            ..Default::default()
                        }),
                        request_id: uuid::Uuid::now_v7().to_string(),
                    };
                    let created = call(&counters, &token, request, |r| {
                        let mut client = client.clone();
                        async move { client.create_project(r).await }
                    })
                    .await;
                    if let Some(project) = created.and_then(|r| r.project) {
                        projects.lock().expect("not poisoned").insert(project.id);
                    }
                    pace(pacer.as_deref(), Duration::from_millis(20)).await;
                }
            }));
        }
        for _ in 0..workers {
            let (channel, token, product) = (edge.clone(), token.to_owned(), product.to_owned());
            let (counters, stop, pacer) = (counters.clone(), stop.clone(), pacer.clone());
            tasks.push(tokio::spawn(async move {
                let client = InventoryServiceClient::new(channel);
                while !stop.load(Ordering::Relaxed) {
                    let request = GetProductRequest {
                        product_id: product.clone(),
                    };
                    call(&counters, &token, request, |r| {
                        let mut client = client.clone();
                        async move { client.get_product(r).await }
                    })
                    .await;
                    pace(pacer.as_deref(), Duration::from_millis(10)).await;
                }
            }));
        }
        {
            let channel = edge.clone();
            let (counters, stop) = (counters.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let client = IdentityServiceClient::new(channel);
                while !stop.load(Ordering::Relaxed) {
                    let request = LoginRequest {
                        username: DEMO_ADMIN_USERNAME.into(),
                        password: DEMO_ADMIN_PASSWORD.into(),
                    };
                    call(&counters, "", request, |r| {
                        let mut client = client.clone();
                        async move { client.login(r).await }
                    })
                    .await;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }));
        }
        Load {
            counters,
            projects,
            paid,
            writers: workers,
            stop,
            tasks,
        }
    }

    /// Stops the workers once their current calls end.
    pub(super) async fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    /// How many projects were acknowledged so far.
    pub(super) fn acknowledged(&self) -> usize {
        self.projects.lock().expect("not poisoned").len()
    }

    /// The orders paid so far (by acknowledged notifications).
    pub(super) fn paid(&self) -> Vec<Paid> {
        self.paid.lock().expect("not poisoned").clone()
    }
}

/// A new anonymous customer orders one item from the menu, gets its Pix
/// payment (asking again if payments was down when the order was placed),
/// and the provider's signed notification approves it.
async fn orders_worker(
    channel: Channel,
    counters: Arc<Counters>,
    paid: Arc<Mutex<Vec<Paid>>>,
    stop: Arc<AtomicBool>,
    snack_bar: SnackBar,
    pacer: Option<Arc<Pacer>>,
) {
    let identity = IdentityServiceClient::new(channel.clone());
    let orders = OrdersServiceClient::new(channel.clone());
    let payments = PaymentsServiceClient::new(channel);
    while !stop.load(Ordering::Relaxed) {
        pace(pacer.as_deref(), Duration::from_millis(50)).await;
        // A retry may create one more anonymous customer: nothing is lost.
        let customer = call(
            &counters,
            "",
            CreateAnonymousCustomerRequest::default(),
            |r| {
                let mut client = identity.clone();
                async move { client.create_anonymous_customer(r).await }
            },
        )
        .await
        .and_then(|r| r.tokens)
        .map(|t| t.access_token);
        let Some(customer) = customer else { continue };
        let request = CreateOrderRequest {
            items: vec![OrderItem {
                product_id: snack_bar.menu_product.clone(),
                quantity: 1,
                ..Default::default()
            }],
            notes: String::new(),
            request_id: uuid::Uuid::now_v7().to_string(),
        };
        let Some(placed) = call(&counters, &customer, request, |r| {
            let mut client = orders.clone();
            async move { client.create_order(r).await }
        })
        .await
        else {
            continue;
        };
        let Some(order) = placed.order else { continue };
        let payment = match placed.payment {
            Some(payment) => Some(payment),
            None => call(
                &counters,
                &customer,
                RequestPaymentRequest {
                    order_id: order.id.clone(),
                },
                |r| {
                    let mut client = orders.clone();
                    async move { client.request_payment(r).await }
                },
            )
            .await
            .and_then(|r| r.payment),
        };
        let Some(payment) = payment else { continue };
        let Ok(code) = BrCode::parse(&payment.pix_code) else {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(order = %order.id, "the Pix code does not parse");
            continue;
        };
        // The bank's confirmation; its x-request-id makes a retry a duplicate.
        let signed = local::signed_notification(
            snack_bar.webhook_secret.as_bytes(),
            &code.txid,
            local::APPROVED,
        );
        let headers = [
            ("x-signature", signed.signature),
            ("x-request-id", signed.request_id),
        ];
        let notification = signed.request;
        let notified = call_with(&counters, "", &headers, notification, |r| {
            let mut client = payments.clone();
            async move { client.handle_notification(r).await }
        })
        .await;
        match notified.map(|n| n.outcome()) {
            Some(NotificationOutcome::Applied | NotificationOutcome::Duplicate) => {
                paid.lock().expect("not poisoned").push(Paid {
                    order: order.id,
                    payment: payment.payment_id,
                });
            }
            Some(other) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(order = %order.id, outcome = ?other, "the approval was not applied");
            }
            None => {}
        }
    }
}

/// Holds a watch stream open on the latest paid order (as staff), for a few
/// seconds each, and opens it again whenever it ends early: a restarted or
/// killed orders process ends its streams, and the client resumes.
async fn watch_worker(
    channel: Channel,
    token: String,
    counters: Arc<Counters>,
    paid: Arc<Mutex<Vec<Paid>>>,
    stop: Arc<AtomicBool>,
) {
    let orders = OrdersServiceClient::new(channel);
    let mut broken = false;
    while !stop.load(Ordering::Relaxed) {
        let latest = paid.lock().expect("not poisoned").last().cloned();
        let Some(latest) = latest else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // Opening is a call: retried while the service is away.
        let opened = call_streaming(
            &counters,
            &token,
            WatchOrderRequest {
                order_id: latest.order.clone(),
            },
            |r| {
                let mut client = orders.clone();
                async move { client.watch_order(r).await }
            },
        )
        .await;
        let Some(mut stream) = opened else {
            continue;
        };
        if broken {
            counters.streams_resumed.fetch_add(1, Ordering::Relaxed);
            broken = false;
        }
        let held = Instant::now() + Duration::from_secs(3);
        loop {
            match tokio::time::timeout_at(held.into(), stream.message()).await {
                Err(_) => break, // held long enough: on to the next order
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None) | Err(_)) => {
                    if !stop.load(Ordering::Relaxed) {
                        counters.streams_broken.fetch_add(1, Ordering::Relaxed);
                        broken = true;
                    }
                    break;
                }
            }
        }
    }
}

/// One call, retried on a retryable code with backoff until the budget is
/// spent; `None` when it failed for good (counted).
async fn call<Req, Resp, F, Fut>(
    counters: &Counters,
    token: &str,
    message: Req,
    send: F,
) -> Option<Resp>
where
    Req: Clone,
    F: Fn(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
{
    call_with(counters, token, &[], message, send).await
}

/// A stream opened as [`call`] makes a call (its deadline covers the
/// opening only: the stream itself has none).
async fn call_streaming<Req, Resp, F, Fut>(
    counters: &Counters,
    token: &str,
    message: Req,
    send: F,
) -> Option<tonic::Streaming<Resp>>
where
    Req: Clone,
    F: Fn(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<tonic::Streaming<Resp>>, Status>>,
{
    call_with(counters, token, &[], message, |mut r| {
        // No grpc-timeout on the stream itself; the opening is bounded here.
        r.metadata_mut().remove("grpc-timeout");
        let opening = send(r);
        async move {
            tokio::time::timeout(ATTEMPT_DEADLINE, opening)
                .await
                .unwrap_or_else(|_| Err(Status::deadline_exceeded("the stream did not open")))
        }
    })
    .await
}

/// [`call`] with extra metadata on every attempt (a webhook's signature).
async fn call_with<Req, Resp, F, Fut>(
    counters: &Counters,
    token: &str,
    metadata: &[(&'static str, String)],
    message: Req,
    send: F,
) -> Option<Resp>
where
    Req: Clone,
    F: Fn(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
{
    counters.calls.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut request = tonic::Request::new(message.clone());
        request.set_timeout(ATTEMPT_DEADLINE);
        if !token.is_empty()
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        for (name, value) in metadata {
            if let Ok(value) = value.parse() {
                request.metadata_mut().insert(*name, value);
            }
        }
        let attempt = Instant::now();
        match send(request).await {
            Ok(response) => {
                let micros = u32::try_from(attempt.elapsed().as_micros()).unwrap_or(u32::MAX);
                counters
                    .latencies
                    .lock()
                    .expect("not poisoned")
                    .push(micros);
                if attempts > 1 {
                    counters.retried.fetch_add(1, Ordering::Relaxed);
                }
                return Some(response.into_inner());
            }
            Err(status) => {
                let took = u64::try_from(attempt.elapsed().as_millis()).unwrap_or(u64::MAX);
                counters
                    .slowest_failed_attempt_ms
                    .fetch_max(took, Ordering::Relaxed);
                if !retryable(status.code()) || started.elapsed() > RETRY_BUDGET {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(code = ?status.code(), message = status.message(), "a call failed for good");
                    return None;
                }
                counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(800));
            }
        }
    }
}
