//! `malha up --split`: the real binary runs every target as its own process
//! (orders twice), each with its own service account; the snack-bar flow
//! runs through the edge's one address (native gRPC passed through to each
//! service's processes), both orders replicas take calls, and Ctrl-C stops
//! every process. With `--pgbouncer` the same fleet queries through a real
//! transaction-mode PgBouncer 1.24 (one alias per schema), its listeners and
//! migrations going to PostgreSQL itself.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::helpers::authed;
use malha_api::identity::LoginRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;

const WEBHOOK_SECRET: &str = "split-webhook-secret";

/// One process of the fleet, as the banner lists it.
#[derive(Debug)]
struct Listed {
    label: String,
    pid: u32,
    metrics: String,
}

struct SplitUp {
    child: Child,
    edge: String,
    processes: Vec<Listed>,
}

impl SplitUp {
    async fn start(dir: &Path, extra: &[&str]) -> Self {
        let edge_port = malha_testkit::free_port();
        let banner = dir.join("banner.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_malha"))
            .args(["up", "--split", "--replicas", "orders=2"])
            .args(extra)
            .args(["--pg-port", &malha_testkit::free_port().to_string()])
            .args(["--nats-port", &malha_testkit::free_port().to_string()])
            .args(["--edge-addr", &format!("127.0.0.1:{edge_port}")])
            .env("MALHA_DATA_DIR", dir)
            .env_remove("DATABASE_URL")
            .env_remove("MALHA_NATS_URL")
            .env("MALHA_PAYMENTS_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .stdout(std::fs::File::create(&banner).unwrap())
            .stderr(std::fs::File::create(dir.join("up.log")).unwrap())
            .spawn()
            .expect("running the malha binary");
        let mut up = Self {
            child,
            edge: format!("http://127.0.0.1:{edge_port}"),
            processes: Vec::new(),
        };
        // The banner comes after the demo data: wait for it.
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&banner).unwrap_or_default();
            if text.contains("Ctrl-C stops everything") {
                up.processes = text.lines().filter_map(parse_listed).collect();
                break;
            }
            if let Some(status) = up.child.try_wait().unwrap() {
                panic!("malha up --split exited ({status}):\n{}", up.log(dir));
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "malha up --split was not up within 180 s:\n{}",
                up.log(dir)
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        up
    }

    fn log(&self, dir: &Path) -> String {
        let log = std::fs::read_to_string(dir.join("up.log")).unwrap_or_default();
        log[log.len().saturating_sub(6000)..].to_owned()
    }

    async fn admin(&self) -> String {
        IdentityServiceClient::connect(self.edge.clone())
            .await
            .unwrap()
            .login(LoginRequest {
                username: "admin".into(),
                password: "malha-admin".into(),
            })
            .await
            .expect("the demo admin logs in through the edge")
            .into_inner()
            .tokens
            .unwrap()
            .access_token
    }
}

impl Drop for SplitUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        for p in &self.processes {
            let _ = Command::new("kill")
                .args(["-KILL", &p.pid.to_string()])
                .status();
        }
    }
}

/// `  orders-2       pid 123      gRPC 127.0.0.1:5   metrics http://127.0.0.1:6/metrics`
fn parse_listed(line: &str) -> Option<Listed> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [label, "pid", pid, "gRPC", _, "metrics", metrics] => Some(Listed {
            label: (*label).to_owned(),
            pid: pid.parse().ok()?,
            metrics: (*metrics).to_owned(),
        }),
        _ => None,
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Calls `orders.v1` answered OK by the process behind `metrics`.
async fn orders_calls(metrics: &str) -> f64 {
    let text = reqwest::get(metrics).await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("grpc_server_handled_total")
                && l.contains("malha.orders.v1.OrdersService")
                && l.contains("grpc_code=\"OK\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn every_target_runs_as_its_own_process_behind_one_edge() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = SplitUp::start(dir.path(), &[]).await;

    let mut labels: Vec<&str> = up.processes.iter().map(|p| p.label.as_str()).collect();
    labels.sort_unstable();
    let mut expected: Vec<String> = malha::targets::TARGETS
        .iter()
        .map(|t| format!("{}-1", t.name))
        .chain(["orders-2".to_owned()])
        .collect();
    expected.sort_unstable();
    assert_eq!(labels, expected, "one process per target, two for orders");
    let mut pids: Vec<u32> = up.processes.iter().map(|p| p.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), up.processes.len(), "distinct processes");

    // The whole snack-bar flow through the edge: orders calls payments with
    // its own service account, payments' event pays the order in orders.
    let admin = up.admin().await;
    crate::flows::snackbar::snack_bar_flow(&up.edge, &admin, WEBHOOK_SECRET).await;

    // Both orders processes served calls (the edge spreads over them).
    let mut client =
        malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient::connect(
            up.edge.clone(),
        )
        .await
        .unwrap();
    for _ in 0..20 {
        client
            .list_kitchen_orders(authed(
                malha_api::malha::orders::v1::ListKitchenOrdersRequest::default(),
                &admin,
            ))
            .await
            .unwrap();
    }
    for replica in ["orders-1", "orders-2"] {
        let p = up.processes.iter().find(|p| p.label == replica).unwrap();
        let calls = orders_calls(&p.metrics).await;
        assert!(calls > 0.0, "{replica} served no call");
    }

    // JSON through the same edge reaches the right process too.
    let units = reqwest::Client::new()
        .get(format!("{}/v1/queue/units", up.edge))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(units.status(), 200, "{}", units.text().await.unwrap());

    // orders-2 stops (SIGTERM): `up` keeps the rest, and within the probe's
    // second the edge sends every call to orders-1.
    let second = up.processes.iter().find(|p| p.label == "orders-2").unwrap();
    let second_pid = second.pid;
    assert!(
        Command::new("kill")
            .args(["-TERM", &second_pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    while alive(second_pid) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "orders-2 did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..20 {
        client
            .list_kitchen_orders(authed(
                malha_api::malha::orders::v1::ListKitchenOrdersRequest::default(),
                &admin,
            ))
            .await
            .expect("orders-1 answers while orders-2 is gone");
    }
    assert!(up.child.try_wait().unwrap().is_none(), "up keeps running");
    drop(client);
    // Ctrl-C: `up` stops every process (SIGTERM, drained) and exits cleanly.
    let pid = up.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = up.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "malha up did not stop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        status.success(),
        "malha up exited with {status}:\n{}",
        up.log(dir.path())
    );
    for p in &up.processes {
        assert!(
            !alive(p.pid),
            "{} (pid {}) outlived malha up",
            p.label,
            p.pid
        );
    }
}

/// One row per alias of PgBouncer's `SHOW <what>` (admin console, simple
/// protocol): its `database` and the named counters.
async fn pgbouncer_show(admin_url: &str, what: &str, columns: &[&str]) -> Vec<(String, Vec<i64>)> {
    use sqlx::{Connection as _, Row as _};
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("PgBouncer's admin console");
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SHOW {what}")))
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let database: String = row.try_get("database").unwrap();
            let values = columns
                .iter()
                .map(|c| {
                    // Counters come as int4, int8 or numeric: read the text.
                    let raw = row.try_get_raw(*c).unwrap();
                    raw.as_str()
                        .ok()
                        .and_then(|text| text.parse().ok())
                        .unwrap_or_else(|| panic!("SHOW {what}: {c} is not a number"))
                })
                .collect();
            (database, values)
        })
        .collect()
}

#[tokio::test]
async fn the_fleet_queries_through_a_transaction_mode_pgbouncer() {
    let dir = tempfile::tempdir().unwrap();
    let up = SplitUp::start(dir.path(), &["--pgbouncer"]).await;
    let log = std::fs::read_to_string(dir.path().join("up.log")).unwrap();
    let pooled = log
        .lines()
        .find_map(|l| l.strip_prefix("PgBouncer (transaction mode) in front of PostgreSQL: "))
        .unwrap_or_else(|| panic!("up names its PgBouncer:\n{log}"));
    let admin_url = pooled.replace("<schema>", "pgbouncer");
    let before = pgbouncer_show(&admin_url, "STATS", &["total_xact_count"]).await;

    // Orders, payments' webhook, the event that pays the order and the
    // order's watch stream: prepared statements, transactions and the
    // schema of each alias, through the pooler; LISTEN direct.
    let admin = up.admin().await;
    crate::flows::snackbar::snack_bar_flow(&up.edge, &admin, WEBHOOK_SECRET).await;

    // 200 reads at once through the edge to the two orders processes (up
    // to 16 pooled connections each) share the alias's 4 server connections
    // (`malha up`'s PgBouncer pool size).
    let channel = tonic::transport::Channel::from_shared(up.edge.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let calls = (0..200).map(|_| {
        let mut client =
            malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient::new(
                channel.clone(),
            );
        let admin = admin.clone();
        async move {
            client
                .list_kitchen_orders(authed(
                    malha_api::malha::orders::v1::ListKitchenOrdersRequest::default(),
                    &admin,
                ))
                .await
        }
    });
    for result in futures::future::join_all(calls).await {
        result.expect("a read through PgBouncer");
    }

    let after = pgbouncer_show(&admin_url, "STATS", &["total_xact_count"]).await;
    let carried = |alias: &str| {
        let count = |rows: &[(String, Vec<i64>)]| {
            rows.iter()
                .find(|(d, _)| d == alias)
                .map_or(0, |(_, v)| v[0])
        };
        count(&after) - count(&before)
    };
    for alias in ["identity", "orders", "payments"] {
        assert!(
            carried(alias) > 0,
            "no transaction of {alias} went through PgBouncer"
        );
    }
    assert!(
        carried("orders") >= 200,
        "orders' reads went around PgBouncer: {}",
        carried("orders")
    );
    // PgBouncer multiplexed: the orders processes keep more client
    // connections open to its alias than it has server connections behind
    // it. (That servers stay within the pool of 4 is PgBouncer's own rule,
    // not something to test here.)
    let pools = pgbouncer_show(
        &admin_url,
        "POOLS",
        &[
            "cl_active",
            "cl_waiting",
            "sv_active",
            "sv_idle",
            "sv_used",
            "sv_tested",
            "sv_login",
        ],
    )
    .await;
    let (_, orders) = pools
        .iter()
        .find(|(alias, _)| alias == "orders")
        .expect("PgBouncer has an orders pool");
    let clients: i64 = orders[..2].iter().sum();
    let servers: i64 = orders[2..].iter().sum();
    assert!(
        clients > servers,
        "orders: {clients} client connections over {servers} server connections: nothing was multiplexed"
    );
}
