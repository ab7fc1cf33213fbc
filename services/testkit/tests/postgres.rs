//! Starts real PostgreSQL servers from the machine's binaries.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use malha_testkit::{PgCluster, free_port, fresh_database, shared_cluster};
use sqlx::PgPool;

const CHILD_ENV: &str = "MALHA_TESTKIT_WATCHDOG_CHILD";

async fn has_table(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn fresh_databases_are_isolated() {
    let a = fresh_database().await.unwrap();
    let b = fresh_database().await.unwrap();
    assert_ne!(a.name, b.name);
    assert!(a.name.starts_with("t_") && a.url.ends_with(&format!("/{}", a.name)));

    let pool_a = PgPool::connect(&a.url).await.unwrap();
    let pool_b = PgPool::connect(&b.url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE widgets (id bigint PRIMARY KEY); INSERT INTO widgets VALUES (1)")
        .execute(&pool_a)
        .await
        .unwrap();
    assert!(has_table(&pool_a, "widgets").await);
    assert!(!has_table(&pool_b, "widgets").await);
}

#[tokio::test]
async fn shared_cluster_is_one_server_per_process() {
    let first = shared_cluster().await;
    let second = shared_cluster().await;
    assert!(std::ptr::eq(first, second));
    assert!(accepts(first.port()));
}

#[tokio::test]
async fn ephemeral_cluster_stops_and_cleans_up() {
    let cluster = PgCluster::start_ephemeral().await.unwrap();
    let port = cluster.port();
    let dir = cluster.data_dir().to_path_buf();
    let pool = PgPool::connect(&cluster.url("postgres")).await.unwrap();
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(fsync, "off");
    pool.close().await;

    cluster.stop().await;
    assert!(!accepts(port));
    cluster.stop().await; // idempotent
    drop(cluster);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[tokio::test]
async fn persistent_cluster_survives_restarts_stale_pids_and_leftover_servers() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("pg");
    // The server may run as an unprivileged user (when we are root): let it in.
    Command::new("chmod")
        .arg("755")
        .arg(temp.path())
        .status()
        .unwrap();

    let first = PgCluster::start(&data_dir, free_port()).await.unwrap();
    let pool = PgPool::connect(&first.url("postgres")).await.unwrap();
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(fsync, "on");
    sqlx::raw_sql("CREATE TABLE kept (id int)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    first.stop().await;
    drop(first);

    // A stale postmaster.pid from a dead process must not block the next start.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(
        data_dir.join("postmaster.pid"),
        format!("{dead_pid}\n{}\n", data_dir.display()),
    )
    .unwrap();
    let second = PgCluster::start(&data_dir, free_port()).await.unwrap();
    let pool = PgPool::connect(&second.url("postgres")).await.unwrap();
    assert!(has_table(&pool, "kept").await, "the cluster was not reused");
    pool.close().await;

    // A server left running by a "crashed" earlier run is stopped, not fought with.
    let leftover_port = second.port();
    std::mem::forget(second);
    let third = PgCluster::start(&data_dir, free_port()).await.unwrap();
    assert!(!accepts(leftover_port));
    let pool = PgPool::connect(&third.url("postgres")).await.unwrap();
    assert!(has_table(&pool, "kept").await);
    pool.close().await;
    drop(third);
}

#[tokio::test]
async fn startup_failure_reports_the_server_log() {
    let busy = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = busy.local_addr().unwrap().port();
    let temp = tempfile::tempdir().unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(temp.path())
        .status()
        .unwrap();
    let err = PgCluster::start(&temp.path().join("pg"), port)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("last lines of"), "{text}");
    assert!(text.contains("already in use"), "{text}");
}

/// Runs only inside the child process of `watchdog_stops_the_server_when_the_process_ends`.
#[tokio::test]
async fn watchdog_child() {
    let Ok(how) = std::env::var(CHILD_ENV) else {
        return;
    };
    let cluster = shared_cluster().await;
    let pid = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid")).unwrap();
    println!(
        "CLUSTER {} {} {}",
        cluster.port(),
        pid.lines().next().unwrap(),
        cluster.data_dir().display()
    );
    if how == "abort" {
        std::process::abort();
    }
}

#[test]
fn watchdog_stops_the_server_when_the_process_ends() {
    for how in ["exit", "abort"] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "watchdog_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, how)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|line| line.split_once("CLUSTER ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("child printed no cluster ({how}): {stdout}"));
        let mut parts = line.splitn(3, ' ');
        let port: u16 = parts.next().unwrap().parse().unwrap();
        let pid = parts.next().unwrap().to_owned();
        let dir = Path::new(parts.next().unwrap()).to_path_buf();

        wait_until("the server is gone", || {
            !accepts(port) && !Path::new(&format!("/proc/{pid}")).exists()
        });
        wait_until("its files are gone", || !dir.exists());
    }
}
