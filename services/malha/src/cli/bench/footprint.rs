//! Target 5, footprint: idle RSS of `malha serve --target <svc>` and of
//! `--target all`, and the time from start to SERVING with the database up.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Bench;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    for (target, limit_mib) in [("identity", 30.0), ("inventory", 30.0), ("all", 80.0)] {
        let (start, rss_mib) = measure(bench, target).await?;
        bench.judged(
            "5 footprint",
            format!("idle RSS, serve --target {target}"),
            None,
            format!("{rss_mib:.1} MiB"),
            format!("{limit_mib:.0} MiB"),
            rss_mib / limit_mib,
            "< 1.00".into(),
            rss_mib < limit_mib,
        );
        let seconds = start.as_secs_f64();
        bench.judged(
            "5 footprint",
            format!("start → SERVING, serve --target {target}"),
            None,
            format!("{:.0} ms", seconds * 1000.0),
            "1000 ms".into(),
            seconds,
            "< 1.00".into(),
            seconds < 1.0,
        );
    }
    Ok(())
}

async fn measure(bench: &Bench, target: &str) -> anyhow::Result<(Duration, f64)> {
    let grpc = malha_local::free_port();
    let admin = malha_local::free_port();
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--target", target])
        .args(["--grpc-addr", &format!("127.0.0.1:{grpc}")])
        .args(["--admin-addr", &format!("127.0.0.1:{admin}")])
        .env("DATABASE_URL", &bench.database_url)
        .env("MALHA_NATS_URL", &bench.nats_url)
        .env("MALHA_IDENTITY_URL", format!("http://{}", bench.full))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let url = format!("http://127.0.0.1:{grpc}");
    let ready = super::super::up::wait_until_serving_every(
        &url,
        Duration::from_millis(5),
        Duration::from_secs(30),
    )
    .await;
    let to_serving = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    ready?;
    let rss_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    Ok((to_serving, rss_kib / 1024.0))
}
