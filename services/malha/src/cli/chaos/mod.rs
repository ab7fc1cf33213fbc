//! `malha chaos`: the system keeping its promises while load runs and
//! processes, the database and the event bus fail. It starts the split
//! fleet (`malha up --split`'s processes) on a private PostgreSQL and NATS,
//! keeps a steady mixed load running through the edge, and injects each
//! scenario in turn:
//! - `restart`: each process drained (SIGTERM) and started again, as a
//!   rolling update does;
//! - `crash`: each process killed (SIGKILL) mid-write and started again;
//! - `postgres`: PostgreSQL stopped for `--outage-seconds`, then started;
//! - `nats`: the event bus stopped for `--outage-seconds`, then started;
//! - `network`: through a real toxiproxy, latency beyond the deadline, a
//!   black hole and connection resets between the services and PostgreSQL,
//!   a black hole to NATS, and the same three between two services (orders
//!   calling payments, the first payments process), each for
//!   `--outage-seconds`.
//!
//! After each scenario it checks, against what the clients were told: no call
//! failed that the client could not retry; no attempt hung past its deadline;
//! every process is ready again; inventory's on-hand equals the receipts less
//! one unit per acknowledged project (each consumption applied exactly once);
//! every order whose approval was acknowledged is PAID once, its payment
//! approved once, and payments' hash-chained log verifies; watch streams a
//! fault ended were opened again; every outbox is drained; no pool is left
//! holding its connections. Any violation fails the command.

mod load;
mod network;
mod soak;

use std::time::{Duration, Instant};

use anyhow::Context;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::inventory::v1::{
    CreateProductRequest, GetProductRequest, MovementKind, Product, RecordMovementRequest,
};
use malha_local::{NatsServer, PgCluster};
use tonic::transport::Channel;

use super::split::{self, Replicas, Stop};
use super::{local, seed};
use crate::targets;
use load::{ATTEMPT_DEADLINE, Load, Snapshot};

type Bearer = tonic::metadata::MetadataValue<tonic::metadata::Ascii>;

/// The stock the load consumes, one unit per project.
const INITIAL_STOCK: i64 = 1_000_000;
/// How long the event pipeline may take to catch up after a scenario.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// What the local Pix provider signs its notifications with, here.
const WEBHOOK_SECRET: &str = "chaos-webhook-secret";
/// How long every process may take to be ready again after a fault ends.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fault `malha chaos` injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Each process drained (SIGTERM) and started again.
    Restart,
    /// Each process killed (SIGKILL) and started again.
    Crash,
    /// PostgreSQL stopped, then started.
    Postgres,
    /// NATS stopped, then started.
    Nats,
    /// Latency, a black hole and resets to PostgreSQL and from orders to
    /// payments, a black hole to NATS (toxiproxy).
    Network,
}

/// Arguments of `chaos`.
#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Scenarios, in order [default: restart,crash,postgres,nats,network;
    /// none with --soak].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenarios: Option<Vec<Scenario>>,

    /// After the scenarios, keep the load running this long (`60s`, `10m`)
    /// and check that memory, errors and latency stay flat.
    #[arg(long, value_parser = soak::parse_duration, value_name = "DURATION")]
    pub soak: Option<Duration>,

    /// Targets whose processes `restart` and `crash` stop (default: all).
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,

    /// Processes per target, e.g. `orders=2` (as `malha up --split`).
    #[arg(long, value_name = "TARGET=N,...")]
    pub replicas: Option<Replicas>,

    /// Seconds of load between two faults.
    #[arg(long, default_value_t = 2)]
    pub settle_seconds: u64,

    /// How long the database or the event bus stays down.
    #[arg(long, default_value_t = 3)]
    pub outage_seconds: u64,

    /// Pace the load at this rate instead of its gentle fixed one: `70%` of
    /// the capacity this same mix reaches unpaced (measured first, for 10 s),
    /// or calls per second (`500`). Project writes, product reads and orders
    /// share it; logins and the watch stream keep their own pace.
    #[arg(long, value_parser = parse_rate, value_name = "PERCENT%|CALLS")]
    pub rate: Option<Rate>,
}

/// How fast `--rate` runs the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// A share of the measured capacity (0.7 for `70%`).
    Share(f64),
    /// Calls per second.
    PerSecond(f64),
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    let (number, share) = match text.strip_suffix('%') {
        Some(n) => (n, true),
        None => (text, false),
    };
    let n: f64 = number.trim().parse().map_err(|_| {
        format!("{text:?}: expected a share such as 70% or calls per second such as 500")
    })?;
    match share {
        true if n > 0.0 && n <= 100.0 => Ok(Rate::Share(n / 100.0)),
        true => Err(format!(
            "{text:?}: the share must be above 0 % and at most 100 %"
        )),
        false if n >= 1.0 => Ok(Rate::PerSecond(n)),
        false => Err(format!("{text:?}: at least 1 call per second")),
    }
}

/// How long `--rate N%` lets the load run free to measure its capacity.
const CAPACITY_SECONDS: u64 = 10;

pub(super) async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let scenarios = match (&args.scenarios, args.soak) {
        (Some(chosen), _) => chosen.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => vec![
            Scenario::Restart,
            Scenario::Crash,
            Scenario::Postgres,
            Scenario::Nats,
            Scenario::Network,
        ],
    };
    for name in &args.targets {
        anyhow::ensure!(
            targets::TARGETS.iter().any(|t| t.name == name),
            "--targets: {name:?} is not a target"
        );
    }
    let dir = tempfile::Builder::new().prefix("malha-chaos-").tempdir()?;
    let root = dir.path();
    let pg_port = malha_local::free_port();
    let mut pg = PgCluster::start(&root.join("postgres"), pg_port).await?;
    pg.create_database(local::LOCAL_DATABASE).await?;
    let database_url = malha_kit::config::Secret::new(pg.url(local::LOCAL_DATABASE));
    let nats_port = malha_local::free_port();
    let mut nats = NatsServer::start_persistent(&root.join("nats"), nats_port).await?;
    let key = local::key_encryption_key_in(root)?;
    let mut nats_url = nats.url();
    // With the network scenario, the processes reach PostgreSQL and NATS
    // through toxiproxy (the checks go direct).
    let mut fleet_database_url = database_url.clone();
    let mut orders_env = Vec::new();
    let toxiproxy = if scenarios.contains(&Scenario::Network) {
        let proxy = network::Toxiproxy::start().await?;
        let pg_at = proxy
            .proxy("postgres", &format!("127.0.0.1:{pg_port}"))
            .await?;
        let nats_at = proxy
            .proxy("nats", &format!("127.0.0.1:{nats_port}"))
            .await?;
        fleet_database_url = malha_kit::config::Secret::new(
            pg.url(local::LOCAL_DATABASE)
                .replace(&format!("127.0.0.1:{pg_port}"), &pg_at),
        );
        nats_url = format!("nats://{nats_at}");
        // Orders reaches payments through a proxy too; it is pointed at the
        // payments process once that has its address.
        let payments_at = proxy
            .proxy(network::PAYMENTS_FOR_ORDERS, "127.0.0.1:1")
            .await?;
        orders_env.push(("MALHA_PAYMENTS_URL", format!("http://{payments_at}")));
        Some(proxy)
    } else {
        None
    };
    let mut per_target = std::collections::BTreeMap::new();
    per_target.insert(
        "identity",
        vec![("MALHA_MAIL_DIR", root.join("mail").display().to_string())],
    );
    per_target.insert(
        "payments",
        vec![("MALHA_PAYMENTS_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned())],
    );
    per_target.insert("orders", orders_env);
    // The processes' own logs: warnings and errors only (RUST_LOG overrides).
    if std::env::var_os("RUST_LOG").is_none() {
        for target in targets::TARGETS {
            per_target
                .entry(target.name)
                .or_insert_with(Vec::new)
                .push(("RUST_LOG", "warn".to_owned()));
        }
    }
    let shared = split::Shared {
        root,
        database_url: &fleet_database_url,
        pgbouncer: None,
        nats_url: &nats_url,
        key_encryption_key: &key,
        per_target,
    };
    eprintln!("chaos: starting the fleet (one process per target)");
    let mut fleet = split::start(&shared, &args.replicas.clone().unwrap_or_default()).await?;
    if let Some(proxy) = &toxiproxy {
        let payments = fleet
            .processes
            .iter()
            .find(|p| p.target == "payments")
            .context("no payments process")?;
        proxy
            .retarget(network::PAYMENTS_FOR_ORDERS, &payments.grpc.to_string())
            .await?;
    }
    let edge = malha_edge::start(([127, 0, 0, 1], 0).into(), fleet.upstreams()).await?;
    let edge_url = format!("http://127.0.0.1:{}", edge.addr.port());
    super::up::wait_until_serving(&edge_url, Duration::from_secs(30)).await?;
    seed::demo(&edge_url)
        .await
        .context("loading the demo data")?;
    seed::snack_bar_menu(&edge_url)
        .await
        .context("loading the snack-bar menu")?;
    let channel = Channel::from_shared(edge_url.clone())?.connect_lazy();
    let bearer = seed::admin_bearer(&mut IdentityServiceClient::new(channel.clone())).await?;
    let token = bearer
        .to_str()?
        .strip_prefix("Bearer ")
        .context("a bearer value")?
        .to_owned();
    let product = stock(&channel, &bearer).await?;
    let snack_bar = load::SnackBar {
        menu_product: menu_product(&channel).await?,
        webhook_secret: WEBHOOK_SECRET.to_owned(),
    };

    let pacer = args.rate.map(|_| load::Pacer::unlimited());
    let mut load = Load::start(&channel, &token, &product, &snack_bar, pacer.clone());
    let settle = Duration::from_secs(args.settle_seconds);
    tokio::time::sleep(settle).await;
    match (args.rate, &pacer) {
        (Some(Rate::Share(share)), Some(pacer)) => {
            let before = load.counters.snapshot();
            let started = Instant::now();
            tokio::time::sleep(Duration::from_secs(CAPACITY_SECONDS)).await;
            let seen = load.counters.snapshot() - before;
            let capacity = seen.calls as f64 / started.elapsed().as_secs_f64();
            // The unpaced kinds (logins, orders) keep running beside it.
            pacer.set_rate(capacity * share);
            println!(
                "\n== Capacity of this mix, unpaced ({CAPACITY_SECONDS} s): {capacity:.0} calls/s ({} failed); \
                 pacing project writes, product reads and orders at {:.0} % = {:.0} calls/s",
                seen.failed,
                share * 100.0,
                capacity * share
            );
            tokio::time::sleep(settle).await;
        }
        (Some(Rate::PerSecond(rate)), Some(pacer)) => pacer.set_rate(rate),
        _ => {}
    }
    let mut violations = Vec::new();
    for scenario in &scenarios {
        load.counters.take_latencies();
        let before = load.counters.snapshot();
        load.counters.reset_slowest();
        let started = Instant::now();
        let injected = match scenario {
            Scenario::Restart | Scenario::Crash => {
                let how = if *scenario == Scenario::Restart {
                    Stop::Drain
                } else {
                    Stop::Crash
                };
                let mut done = Vec::new();
                for index in 0..fleet.processes.len() {
                    let p = &fleet.processes[index];
                    if !args.targets.is_empty() && !args.targets.iter().any(|t| t == p.target) {
                        continue;
                    }
                    let label = p.label();
                    fleet
                        .restart(index, how)
                        .await
                        .with_context(|| format!("restarting {label}"))?;
                    done.push(label);
                    tokio::time::sleep(settle).await;
                }
                let verb = if how == Stop::Drain {
                    "SIGTERM + start"
                } else {
                    "SIGKILL + start"
                };
                format!("{verb} of {}", done.join(", "))
            }
            Scenario::Postgres => {
                pg.stop().await;
                // Its watchdog stops the data directory's server when it is
                // dropped: drop it before the new one starts.
                drop(pg);
                let not_ready =
                    not_ready_during(&fleet, Duration::from_secs(args.outage_seconds)).await;
                pg = PgCluster::start(&root.join("postgres"), pg_port).await?;
                format!(
                    "PostgreSQL down {} s ({not_ready} of {} processes reported NOT_SERVING)",
                    args.outage_seconds,
                    fleet.processes.len()
                )
            }
            Scenario::Network => {
                let proxy = toxiproxy
                    .as_ref()
                    .context("toxiproxy runs with the network scenario")?;
                let mut done = Vec::new();
                for fault in network::faults() {
                    proxy
                        .add(fault.proxy, fault.kind, fault.attributes.clone())
                        .await?;
                    tokio::time::sleep(Duration::from_secs(args.outage_seconds)).await;
                    proxy.remove(fault.proxy, fault.kind).await?;
                    let back = all_ready(&fleet, RECOVERY_TIMEOUT).await;
                    done.push(match back {
                        Ok(took) => format!("{} ({} ms to ready)", fault.what, took.as_millis()),
                        Err(e) => format!("{} ({e})", fault.what),
                    });
                    tokio::time::sleep(settle).await;
                }
                format!("{} s each: {}", args.outage_seconds, done.join("; "))
            }
            Scenario::Nats => {
                nats.stop();
                let not_ready =
                    not_ready_during(&fleet, Duration::from_secs(args.outage_seconds)).await;
                nats.start().await?;
                format!(
                    "NATS down {} s ({not_ready} processes with events reported NOT_SERVING)",
                    args.outage_seconds
                )
            }
        };
        let recovered = all_ready(&fleet, RECOVERY_TIMEOUT).await;
        tokio::time::sleep(settle).await;
        let seen = load.counters.snapshot() - before;
        let mut checks = Vec::new();
        let mut fail = |ok: bool, what: String| {
            checks.push(format!("{} {what}", if ok { "ok  " } else { "FAIL" }));
            if !ok {
                violations.push(format!("{scenario:?}: {what}"));
            }
        };
        fail(
            seen.failed == 0,
            format!("{} calls failed for good", seen.failed),
        );
        let hang_limit = ATTEMPT_DEADLINE.as_millis() as u64 + 1000;
        fail(
            seen.slowest_failed_attempt_ms <= hang_limit,
            format!(
                "slowest failed attempt {} ms (deadline {} ms: no hang)",
                seen.slowest_failed_attempt_ms,
                ATTEMPT_DEADLINE.as_millis()
            ),
        );
        fail(
            recovered.is_ok(),
            match &recovered {
                Ok(took) => format!(
                    "every process ready again ({} ms after the fault)",
                    took.as_millis()
                ),
                Err(e) => format!("{e}"),
            },
        );
        let consistent = consistent(&channel, &bearer, &product, &load, &database_url).await;
        fail(
            consistent.is_ok(),
            consistent.unwrap_or_else(|e| format!("{e:#}")),
        );
        let paid = paid_once(&channel, &bearer, &load.paid(), &database_url).await;
        fail(paid.is_ok(), paid.unwrap_or_else(|e| format!("{e:#}")));
        // A stream the fault ended may still be reopening when the window closes.
        fail(
            seen.streams_resumed + 1 >= seen.streams_broken,
            format!(
                "watch streams: {} ended by the fault, {} opened again",
                seen.streams_broken, seen.streams_resumed
            ),
        );
        let pools = pools_released(&fleet).await;
        fail(pools.is_ok(), pools.unwrap_or_else(|e| format!("{e:#}")));
        print_scenario(scenario, &injected, started.elapsed(), &seen, &checks);
    }
    if let Some(duration) = args.soak {
        let report = soak::run(&fleet, &load, duration).await;
        println!("{}", report.text);
        violations.extend(report.violations);
    }
    load.stop().await;
    let total = load.counters.snapshot();
    let projects = load.acknowledged();
    // With the load stopped nothing is in flight: exactly one consumption per
    // acknowledged project (unless a call failed for good, whose outcome the
    // client never learnt).
    if total.failed == 0 {
        println!("\n== after the load");
        let exact = drained_exactly(&channel, &bearer, &product, projects, &database_url).await;
        let paid = paid_once(&channel, &bearer, &load.paid(), &database_url).await;
        for outcome in [exact, paid] {
            match outcome {
                Ok(line) => println!("   ok   {line}"),
                Err(e) => {
                    println!("   FAIL {e:#}");
                    violations.push(format!("after the load: {e:#}"));
                }
            }
        }
    }
    eprintln!("chaos: stopping the fleet");
    edge.shutdown();
    fleet.stop().await;
    let _ = edge.wait().await;
    pg.stop().await;
    nats.stop();
    if let Some(proxy) = toxiproxy {
        proxy.stop().await;
    }
    println!(
        "\nin total: {} calls ({} retried, {} failed for good), {projects} projects acknowledged, \
         {} orders paid by webhook, {} watch streams ended by faults and {} reopened",
        total.calls,
        total.retried,
        total.failed,
        load.paid().len(),
        total.streams_broken,
        total.streams_resumed
    );
    if violations.is_empty() {
        println!("chaos: every invariant held");
        Ok(())
    } else {
        anyhow::bail!(
            "chaos: {} violation(s):\n  {}",
            violations.len(),
            violations.join("\n  ")
        )
    }
}

fn print_scenario(
    scenario: &Scenario,
    injected: &str,
    took: Duration,
    seen: &Snapshot,
    checks: &[String],
) {
    println!(
        "\n== {scenario:?} ({:.1} s)\n   injected: {injected}\n   calls {} · retried {} · failed attempts {} · failed {}",
        took.as_secs_f64(),
        seen.calls,
        seen.retried,
        seen.failed_attempts,
        seen.failed
    );
    for check in checks {
        println!("   {check}");
    }
}

/// A product with a large receipt for the projects to consume.
async fn stock(channel: &Channel, bearer: &Bearer) -> anyhow::Result<String> {
    let mut inventory = InventoryServiceClient::new(channel.clone());
    let product = inventory
        .create_product(seed::with_bearer(
            CreateProductRequest {
                product: Some(Product {
                    sku: format!("CHAOS-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]),
                    name: "chaos stock".into(),
                    unit: "unit".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            bearer,
        ))
        .await?
        .into_inner()
        .product
        .context("no product")?;
    inventory
        .record_movement(seed::with_bearer(
            RecordMovementRequest {
                product_id: product.id.clone(),
                kind: MovementKind::Receipt as i32,
                quantity: INITIAL_STOCK,
                reason: "chaos: initial stock".into(),
                request_id: String::new(),
            },
            bearer,
        ))
        .await?;
    Ok(product.id)
}

/// The first product on the demo menu (public: no token).
async fn menu_product(channel: &Channel) -> anyhow::Result<String> {
    let menu = malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient::new(
        channel.clone(),
    )
    .get_menu(malha_api::malha::orders::v1::GetMenuRequest {})
    .await?
    .into_inner();
    menu.sections
        .iter()
        .flat_map(|s| &s.products)
        .map(|p| p.id.clone())
        .next()
        .context("the demo menu is empty")
}

/// Exactly once for the snack bar, from what the clients were told: every
/// order whose approval was acknowledged is PAID, moved there once, its
/// payment approved once; and payments' hash-chained log verifies.
async fn paid_once(
    channel: &Channel,
    bearer: &Bearer,
    paid: &[load::Paid],
    database_url: &malha_kit::config::Secret,
) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let orders: Vec<uuid::Uuid> = paid.iter().filter_map(|p| p.order.parse().ok()).collect();
    let payments: Vec<uuid::Uuid> = paid.iter().filter_map(|p| p.payment.parse().ok()).collect();
    let started = Instant::now();
    let mut conn = sqlx::PgConnection::connect(database_url.expose()).await?;
    loop {
        let (not_paid, paid_twice, approved_twice): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM orders.orders WHERE id = ANY($1) AND status <> 'paid'),
                    (SELECT count(*) FROM (SELECT order_id FROM orders.order_transitions
                                            WHERE order_id = ANY($1) AND to_status = 'paid'
                                            GROUP BY order_id HAVING count(*) > 1) twice),
                    (SELECT count(*) FROM (SELECT payment_id FROM payments.transactions
                                            WHERE payment_id = ANY($2) AND kind = 'approved'
                                            GROUP BY payment_id HAVING count(*) <> 1) other)",
        )
        .bind(&orders)
        .bind(&payments)
        .fetch_one(&mut conn)
        .await?;
        anyhow::ensure!(
            paid_twice == 0 && approved_twice == 0,
            "{paid_twice} orders moved to PAID more than once, {approved_twice} payments not approved exactly once"
        );
        if not_paid == 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < DRAIN_TIMEOUT,
            "after {} s: {not_paid} of {} orders whose approval was acknowledged are not PAID (an event lost)",
            DRAIN_TIMEOUT.as_secs(),
            orders.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    conn.close().await?;
    let ledger =
        malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient::new(
            channel.clone(),
        )
        .verify_ledger(seed::with_bearer(
            malha_api::malha::payments::v1::VerifyLedgerRequest::default(),
            bearer,
        ))
        .await?
        .into_inner();
    anyhow::ensure!(
        ledger.intact,
        "payments' transaction log is broken at {}: {}",
        ledger.broken_sequence,
        ledger.problem
    );
    Ok(format!(
        "{} orders paid by webhook: each PAID once, its payment approved once; the payments log verifies ({} entries)",
        orders.len(),
        ledger.entries_checked
    ))
}

/// Samples every process's readiness for `outage`; how many said NOT_SERVING.
async fn not_ready_during(fleet: &split::Fleet, outage: Duration) -> usize {
    let started = Instant::now();
    let mut seen = std::collections::HashSet::new();
    while started.elapsed() < outage {
        for p in &fleet.processes {
            if !ready(p).await {
                seen.insert(p.label());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen.len()
}

async fn ready(p: &split::Process) -> bool {
    let url = format!("http://{}/readyz", p.admin);
    matches!(
        tokio::time::timeout(Duration::from_secs(1), reqwest::get(&url)).await,
        Ok(Ok(r)) if r.status().is_success()
    )
}

/// Waits until every process is ready; how long that took.
async fn all_ready(fleet: &split::Fleet, timeout: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let mut waiting = Vec::new();
        for p in &fleet.processes {
            if !ready(p).await {
                waiting.push(p.label());
            }
        }
        if waiting.is_empty() {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "not ready {} s after the fault: {}",
            timeout.as_secs(),
            waiting.join(", ")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exactly-once, from what the clients were told: on-hand equals the receipt
/// less one unit per acknowledged project, and every outbox is drained.
async fn consistent(
    channel: &Channel,
    bearer: &Bearer,
    product: &str,
    load: &Load,
    database_url: &malha_kit::config::Secret,
) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut inventory = InventoryServiceClient::new(channel.clone());
    loop {
        // Acknowledged before the read: a project acknowledged later is not
        // expected yet (its consumption may be in flight).
        let acknowledged = i64::try_from(load.acknowledged()).unwrap_or(i64::MAX);
        let on_hand = inventory
            .get_product(seed::with_bearer(
                GetProductRequest {
                    product_id: product.to_owned(),
                },
                bearer,
            ))
            .await
            .ok()
            .and_then(|r| r.into_inner().product)
            .map(|p| p.quantity_on_hand);
        let consumed = on_hand.map(|h| INITIAL_STOCK - h);
        // Consumed may run ahead of `acknowledged` by the calls in flight; it
        // may never fall behind once drained, nor exceed acknowledged + the
        // writers' in-flight calls.
        if let Some(consumed) = consumed
            && consumed >= acknowledged
            && consumed <= acknowledged + load.writers as i64
            && outboxes_drained(database_url).await?
        {
            return Ok(format!(
                "on-hand {} = {INITIAL_STOCK} - {consumed} consumed, {acknowledged} projects acknowledged (+ at most {} in flight); every outbox drained ({} ms)",
                INITIAL_STOCK - consumed,
                load.writers,
                started.elapsed().as_millis()
            ));
        }
        anyhow::ensure!(
            started.elapsed() < DRAIN_TIMEOUT,
            "after {} s: {acknowledged} projects acknowledged but {consumed:?} units consumed (a consumption lost or applied twice), or an outbox not drained",
            DRAIN_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// On-hand is exactly the receipt less `projects`, and every outbox drained.
async fn drained_exactly(
    channel: &Channel,
    bearer: &Bearer,
    product: &str,
    projects: usize,
    database_url: &malha_kit::config::Secret,
) -> anyhow::Result<String> {
    let expected = INITIAL_STOCK - i64::try_from(projects)?;
    let started = Instant::now();
    let mut inventory = InventoryServiceClient::new(channel.clone());
    loop {
        let on_hand = inventory
            .get_product(seed::with_bearer(
                GetProductRequest {
                    product_id: product.to_owned(),
                },
                bearer,
            ))
            .await
            .ok()
            .and_then(|r| r.into_inner().product)
            .map(|p| p.quantity_on_hand);
        if on_hand == Some(expected) && outboxes_drained(database_url).await? {
            return Ok(format!(
                "on-hand {expected} = {INITIAL_STOCK} - {projects}: one consumption per acknowledged project, none twice; every outbox drained"
            ));
        }
        anyhow::ensure!(
            started.elapsed() < DRAIN_TIMEOUT,
            "on-hand {on_hand:?}, expected {expected} ({projects} projects acknowledged)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// No pool left holding its connections after a fault (a leak): each
/// process's in-use connections below its maximum.
async fn pools_released(fleet: &split::Fleet) -> anyhow::Result<String> {
    let mut in_use_total = 0.0;
    for p in &fleet.processes {
        let text = reqwest::get(format!("http://{}/metrics", p.admin))
            .await?
            .text()
            .await?;
        let sum = |wanted: &dyn Fn(&str) -> bool| -> f64 {
            text.lines()
                .filter(|l| wanted(l))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let in_use =
            sum(&|l| l.starts_with("malha_db_pool_connections{") && l.contains("state=\"in_use\""));
        let max = sum(&|l| l.starts_with("malha_db_pool_max_connections"));
        anyhow::ensure!(
            max == 0.0 || in_use < max,
            "{}: {in_use} of {max} pool connections still in use after the fault (a leak)",
            p.label()
        );
        in_use_total += in_use;
    }
    Ok(format!(
        "pools released: {in_use_total} connections in use across {} processes, none at its maximum",
        fleet.processes.len()
    ))
}

/// No unpublished row in any service's outbox.
async fn outboxes_drained(database_url: &malha_kit::config::Secret) -> anyhow::Result<bool> {
    use sqlx::Connection as _;
    let Ok(mut conn) = sqlx::PgConnection::connect(database_url.expose()).await else {
        return Ok(false);
    };
    for target in targets::TARGETS {
        let table = format!("{}.outbox", target.schema.name);
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(&table)
            .fetch_one(&mut conn)
            .await?;
        if exists.is_none() {
            continue;
        }
        let pending: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE published_at IS NULL"
        )))
        .fetch_one(&mut conn)
        .await?;
        if pending > 0 {
            return Ok(false);
        }
    }
    conn.close().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_share_of_capacity_or_calls_per_second() {
        assert_eq!(parse_rate("70%"), Ok(Rate::Share(0.7)));
        assert_eq!(parse_rate("100%"), Ok(Rate::Share(1.0)));
        assert_eq!(parse_rate("500"), Ok(Rate::PerSecond(500.0)));
        assert!(parse_rate("0%").is_err());
        assert!(parse_rate("150%").is_err());
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }
}
