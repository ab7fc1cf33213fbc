//! Target 4, login storm: 50 concurrent logins (argon2id on the bounded
//! blocking pool) must not raise the p99 of other RPCs (GetMe) above twice
//! its baseline measured in the same run (median of `--rounds` rounds, alone
//! and during the storm alternating).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use malha_api::identity::LoginRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;

use super::Bench;
use super::load::{Figures, Shape};

const LOGINS: usize = 50;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let shape = Shape {
        concurrency: 10,
        connections: 1,
        ..bench.shape
    };
    let call = "malha.identity.v1.IdentityService/GetMe";
    // Alone and during the storm, alternating, so drift hits both alike.
    let (mut alone, mut stormy, mut ratios, mut per_second) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        let baseline = bench
            .call(&bench.full.clone(), call, "{}", true, shape)
            .await?;
        let (during, logins) = during_logins(bench, call, shape).await?;
        ratios.push(during.p99_ms / baseline.p99_ms.max(0.001));
        per_second.push(logins);
        alone.push(baseline);
        stormy.push(during);
    }
    let (baseline, during) = (Figures::combine(&alone), Figures::combine(&stormy));
    let ratio = super::load::median(&ratios);
    let per_second = super::load::median(&per_second);
    bench.measured("4 storm", "GetMe alone (reference)", baseline);
    bench.judged(
        "4 storm",
        format!("GetMe during 50 logins ({per_second:.0} logins/s): p99"),
        Some(during),
        format!("{:.2} ms", during.p99_ms),
        format!("{:.2} ms", baseline.p99_ms),
        ratio,
        "<= 2.00".into(),
        ratio <= 2.0,
    );
    // The p99s' spread: the baseline's is what a noisy machine moves.
    let p99s: Vec<f64> = alone.iter().map(|f| f.p99_ms).collect();
    bench.reference_spread(super::load::spread(&p99s));
    Ok(())
}

/// `call` under load while 50 clients log in without pause; its figures and
/// the logins per second.
async fn during_logins(bench: &Bench, call: &str, shape: Shape) -> anyhow::Result<(Figures, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(LOGINS);
    for _ in 0..LOGINS {
        let (stop, logins) = (Arc::clone(&stop), Arc::clone(&logins));
        let mut client = IdentityServiceClient::connect(format!("http://{}", bench.full)).await?;
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = client
                    .login(LoginRequest {
                        username: "bench".into(),
                        password: "bench password".into(),
                    })
                    .await
                    .is_ok();
                if ok {
                    logins.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let during = bench
        .call(&bench.full.clone(), call, "{}", true, shape)
        .await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let per_second = logins.load(Ordering::Relaxed) as f64 / shape.duration.as_secs_f64();
    Ok((during?, per_second))
}
