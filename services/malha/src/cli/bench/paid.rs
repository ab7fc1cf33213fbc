//! Target 7, second chain: `CreateOrder` → payment → webhook → PAID, counting
//! everything it starts. Each chain is an order placed by an anonymous
//! customer (orders asks payments for its Pix payment over gRPC while the
//! customer waits), then the local provider's signed notification approving
//! it (`HandleNotification`), whose `payments.payment.approved` event goes
//! through payments' outbox, JetStream and orders' consumer to mark the order
//! PAID.
//!
//! The chains are driven from this process (the webhook's signature differs
//! per payment, which h2load and ghz cannot make), by one thread of its own
//! whose CPU is read from /proc and left out of Malha's. Reported, as for
//! projects: chains/s at 32 in flight for `WRITE_SECONDS`, the pipeline's
//! pace and backlog, the drain, CPU per paid order (malha less the driver,
//! PostgreSQL, NATS), and at 80 % of that rate the event latency from the
//! approval's outbox row to orders' inbox commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use malha_api::identity::CreateAnonymousCustomerRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
use malha_api::malha::orders::v1::{
    Category, CreateCategoryRequest, CreateOrderRequest, CreateProductRequest, OrderItem, Product,
};
use malha_api::malha::payments::v1::NotificationOutcome;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_payments::brcode::BrCode;
use malha_payments::provider::local;
use sqlx::PgPool;
use tonic::transport::Channel;

use super::Bench;
use super::load::Figures;
use super::writes::{self, Cpu, Pipeline, WRITE_SECONDS};

/// The secret the bench's payments checks notifications with.
pub(super) const WEBHOOK_SECRET: &str = "bench-webhook-secret";
/// Chains in flight at the maximum rate.
const IN_FLIGHT: usize = 32;

const PIPELINE: Pipeline = Pipeline {
    stream: "EVENTS_PAYMENTS",
    consumer: "orders-payment-outcomes",
    outboxes: &["payments.outbox", "orders.outbox"],
    subject: "payments.payment.approved",
    inbox: "orders.inbox",
};

pub(super) async fn run(bench: &mut Bench, pool: &PgPool) -> anyhow::Result<()> {
    let channel = Channel::from_shared(format!("http://{}", bench.full))?
        .connect()
        .await?;
    let product = menu_product(&channel, &bench.token).await?;

    writes::drained(bench, pool, &PIPELINE, Duration::from_secs(180)).await?;
    let statements = writes::Statements::start(bench, pool).await?;
    let before = counts(pool).await?;
    let cpu_before = Cpu::read(bench)?;
    let run = drive(channel.clone(), product.clone(), None).await?;
    let end = counts(pool).await?;
    let lag = PIPELINE.oldest_unapplied_seconds(pool).await?;
    let drain = writes::drained(bench, pool, &PIPELINE, Duration::from_secs(300)).await?;
    let cpu = Cpu::read(bench)?.since(&cpu_before);
    let after = counts(pool).await?;

    let paid = (after.paid - before.paid).max(1);
    statements.print(pool, paid, "paid order").await?;
    let per_order = |d: Duration| d.as_secs_f64() * 1e6 / paid as f64;
    let malha = cpu.malha.saturating_sub(run.driver_cpu);
    let total = per_order(malha + cpu.postgres + cpu.nats);
    let approved = (end.approved - before.approved) as f64 / run.seconds;
    let applied = (end.paid - before.paid) as f64 / run.seconds;
    println!(
        "writes (orders paid by webhook): {paid} orders paid; CPU per paid order {total:.0} µs = malha {:.0} \
         (the driver's {:.0} left out) + postgres {:.0} + nats {:.0}; during the run {:.0} chains/s, \
         {approved:.0} approvals/s, {applied:.0} orders PAID/s; backlog at the end {} (oldest {lag:.2} s); \
         drained in {:.2} s",
        per_order(malha),
        per_order(run.driver_cpu),
        per_order(cpu.postgres),
        per_order(cpu.nats),
        run.figures.rps,
        end.approved - end.paid,
        drain.as_secs_f64(),
    );
    bench.measured(
        "7 writes",
        "CreateOrder + signed webhook (2 RPCs), max rate",
        run.figures,
    );
    bench.compared(
        "7 writes",
        "orders: PAID/s over chains/s in the run",
        format!("{applied:.0}/s"),
        format!("{:.0}/s", run.figures.rps),
        applied / run.figures.rps.max(1.0),
    );
    bench.judged(
        "7 writes",
        format!(
            "orders: lag at the end ({} left, drained in {:.1} s)",
            end.approved - end.paid,
            drain.as_secs_f64()
        ),
        None,
        format!("{lag:.2} s"),
        format!("{:.0} s", writes::LAG_GOAL_SECONDS),
        lag / writes::LAG_GOAL_SECONDS,
        "< 1.00".into(),
        lag < writes::LAG_GOAL_SECONDS,
    );
    bench.judged(
        "7 writes",
        "orders: CPU per paid order, all processes",
        None,
        format!("{total:.0} µs"),
        format!("{:.0} µs", writes::CPU_GOAL_MICROS),
        total / writes::CPU_GOAL_MICROS,
        "<= 1.00".into(),
        total <= writes::CPU_GOAL_MICROS,
    );

    // Event latency at 80 % of the rate just measured.
    let rate = run.figures.rps * 0.8;
    let window: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT now()").fetch_one(pool).await?;
    let paced = drive(channel, product, Some(rate)).await?;
    writes::drained(bench, pool, &PIPELINE, Duration::from_secs(300)).await?;
    let (p50, p99) = PIPELINE.event_latency(pool, window).await?;
    bench.judged(
        "7 writes",
        format!(
            "orders: approval → PAID latency p99 at {:.0}/s (p50 {p50:.1} ms)",
            paced.figures.rps
        ),
        Some(Figures {
            p50_ms: p50,
            p99_ms: p99,
            ..paced.figures
        }),
        format!("{p99:.1} ms"),
        format!("{:.0} ms", writes::LATENCY_GOAL_MS),
        p99 / writes::LATENCY_GOAL_MS,
        "< 1.00".into(),
        p99 < writes::LATENCY_GOAL_MS,
    );
    Ok(())
}

/// A category and an available product, as the bench's administrator.
async fn menu_product(channel: &Channel, token: &str) -> anyhow::Result<String> {
    let mut orders = OrdersServiceClient::new(channel.clone());
    let category = orders
        .create_category(super::super::seed::with_bearer(
            CreateCategoryRequest {
                category: Some(Category {
                    name: "Bench".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &format!("Bearer {token}").parse()?,
        ))
        .await?
        .into_inner()
        .category
        .ok_or_else(|| anyhow::anyhow!("no category"))?;
    let product = orders
        .create_product(super::super::seed::with_bearer(
            CreateProductRequest {
                product: Some(Product {
                    category_id: category.id,
                    name: "Bench burger".into(),
                    price_centavos: 2490,
                    available: true,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &format!("Bearer {token}").parse()?,
        ))
        .await?
        .into_inner()
        .product
        .ok_or_else(|| anyhow::anyhow!("no product"))?;
    Ok(product.id)
}

/// What one driven run saw.
struct Run {
    figures: Figures,
    seconds: f64,
    /// CPU the driver's own thread used.
    driver_cpu: Duration,
}

/// Drives chains for `WRITE_SECONDS`, as fast as `IN_FLIGHT` allow or at
/// `rate` chains/s, on a thread (and runtime) of its own.
async fn drive(channel: Channel, product: String, rate: Option<f64>) -> anyhow::Result<Run> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bench-driver".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let outcome = match runtime {
                Ok(runtime) => {
                    let started = thread_cpu();
                    let run = runtime.block_on(chains(channel, product, rate));
                    run.map(|mut run| {
                        run.driver_cpu = thread_cpu().saturating_sub(started);
                        run
                    })
                }
                Err(e) => Err(e.into()),
            };
            let _ = done.send(outcome);
        })?;
    result.await?
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Duration {
    super::load::cpu_of("thread-self").unwrap_or_default()
}

async fn chains(channel: Channel, product: String, rate: Option<f64>) -> anyhow::Result<Run> {
    let deadline = Instant::now() + Duration::from_secs(WRITE_SECONDS);
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r.max(1.0)));
    let next = Arc::new(std::sync::Mutex::new(Instant::now()));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let (channel, product) = (channel.clone(), product.clone());
        let (next, errors) = (next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let customer = IdentityServiceClient::new(channel.clone())
                .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
                .await?
                .into_inner()
                .tokens
                .map(|t| format!("Bearer {}", t.access_token))
                .unwrap_or_default()
                .parse::<tonic::metadata::MetadataValue<_>>()?;
            let mut orders = OrdersServiceClient::new(channel.clone());
            let mut payments = PaymentsServiceClient::new(channel);
            while Instant::now() < deadline {
                if let Some(interval) = interval {
                    let slot = {
                        let mut next = next.lock().expect("not poisoned");
                        let slot = (*next).max(Instant::now());
                        *next = slot + interval;
                        slot
                    };
                    tokio::time::sleep_until(slot.into()).await;
                }
                let began = Instant::now();
                match chain(&mut orders, &mut payments, &customer, &product).await {
                    Ok(()) => latencies.push(began.elapsed()),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("bench: a paid-order chain failed: {e:#}");
                        }
                    }
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Run {
        figures: Figures {
            rps: latencies.len() as f64 / seconds,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            errors: errors.load(Ordering::Relaxed),
            spread: 0.0,
        },
        seconds,
        driver_cpu: Duration::ZERO,
    })
}

/// One order placed and its payment approved by a signed notification.
async fn chain(
    orders: &mut OrdersServiceClient<Channel>,
    payments: &mut PaymentsServiceClient<Channel>,
    customer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    product: &str,
) -> anyhow::Result<()> {
    let mut request = tonic::Request::new(CreateOrderRequest {
        items: vec![OrderItem {
            product_id: product.to_owned(),
            quantity: 1,
            ..Default::default()
        }],
        notes: String::new(),
        request_id: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", customer.clone());
    let placed = orders.create_order(request).await?.into_inner();
    let payment = placed
        .payment
        .ok_or_else(|| anyhow::anyhow!("no payment"))?;
    let txid = BrCode::parse(&payment.pix_code)?.txid;
    let signed = local::signed_notification(WEBHOOK_SECRET.as_bytes(), &txid, local::APPROVED);
    let mut request = tonic::Request::new(signed.request);
    request
        .metadata_mut()
        .insert("x-signature", signed.signature.parse()?);
    request
        .metadata_mut()
        .insert("x-request-id", signed.request_id.parse()?);
    let notified = payments.handle_notification(request).await?.into_inner();
    anyhow::ensure!(
        notified.outcome() == NotificationOutcome::Applied,
        "the approval was not applied: {:?}",
        notified.outcome()
    );
    Ok(())
}

/// Approvals published so far, and orders PAID.
struct Counts {
    approved: i64,
    paid: i64,
}

async fn counts(pool: &PgPool) -> anyhow::Result<Counts> {
    let (approved, paid): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments.outbox WHERE subject = 'payments.payment.approved'),
                (SELECT count(*) FROM orders.order_transitions WHERE to_status = 'paid')",
    )
    .fetch_one(pool)
    .await?;
    Ok(Counts { approved, paid })
}
