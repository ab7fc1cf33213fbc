//! Target 4, login storm: 50 concurrent logins (argon2id on the bounded
//! blocking pool) must not raise the p99 of other RPCs (GetMe) above twice
//! its baseline measured in the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use malha_api::identity::LoginRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;

use super::Bench;
use super::load::Shape;

const LOGINS: usize = 50;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let shape = Shape {
        concurrency: 10,
        connections: 1,
        ..bench.shape
    };
    let call = "malha.identity.v1.IdentityService/GetMe";
    let baseline = bench.call(&bench.full.clone(), call, "{}", true, shape)?;

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
    let (ghz, protoset, full, token) = (
        bench.ghz.clone(),
        bench.protoset.clone(),
        bench.full.clone(),
        bench.token.clone(),
    );
    let stormy = tokio::task::spawn_blocking(move || {
        super::load::run(&ghz, &protoset, &full, call, "{}", Some(&token), shape)
    })
    .await??;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let per_second = logins.load(Ordering::Relaxed) as f64 / shape.duration.as_secs_f64();
    bench.measured("4 storm", "GetMe alone (reference)", baseline);
    let ratio = stormy.p99_ms / baseline.p99_ms.max(0.001);
    bench.judged(
        "4 storm",
        format!("GetMe during 50 logins ({per_second:.0} logins/s): p99"),
        Some(stormy),
        format!("{:.2} ms", stormy.p99_ms),
        format!("{:.2} ms", baseline.p99_ms),
        ratio,
        "<= 2.00".into(),
        ratio <= 2.0,
    );
    Ok(())
}
