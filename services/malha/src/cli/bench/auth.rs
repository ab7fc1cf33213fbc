//! Target 1, the auth + telemetry tax: a trivial RPC (health Check) through
//! the full stack with a bearer token, against the same RPC on a bare tonic
//! server in the same binary. Also ValidateToken, for the record.

use super::Bench;

pub(super) fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let check = "grpc.health.v1.Health/Check";
    let bare = bench.call(&bench.bare.clone(), check, "{}", false, bench.shape)?;
    let full = bench.call(&bench.full.clone(), check, "{}", true, bench.shape)?;
    bench.measured("1 auth", "health Check, bare tonic (reference)", bare);
    let rps_ratio = full.rps / bare.rps.max(1.0);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: req/s",
        Some(full),
        format!("{:.0} req/s", full.rps),
        format!("{:.0} req/s", bare.rps),
        rps_ratio,
        ">= 0.85".into(),
        rps_ratio >= 0.85,
    );
    let p99_ratio = full.p99_ms / bare.p99_ms.max(0.001);
    bench.judged(
        "1 auth",
        "health Check, auth + telemetry stack: p99",
        None,
        format!("{:.2} ms", full.p99_ms),
        format!("{:.2} ms", bare.p99_ms),
        p99_ratio,
        "<= 1.20".into(),
        p99_ratio <= 1.2,
    );
    let data = format!(r#"{{"access_token":"{}"}}"#, bench.token);
    let validate = bench.call(
        &bench.full.clone(),
        "malha.identity.v1.IdentityService/ValidateToken",
        &data,
        false,
        bench.shape,
    )?;
    bench.measured("1 auth", "ValidateToken", validate);
    Ok(())
}
