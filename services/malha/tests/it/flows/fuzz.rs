//! `malha fuzz`, the CI version: random and malformed requests to every
//! RPC of the contract, as every caller, through the real binary. A fixed
//! seed keeps CI repeatable; `malha fuzz` without one explores new inputs.

use std::process::Command;

#[test]
fn no_rpc_answers_internal_unknown_or_hangs() {
    let output = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["fuzz", "--per-rpc", "30", "--passes", "2", "--seed", "7"])
        .env_remove("DATABASE_URL")
        .env_remove("MALHA_NATS_URL")
        .env("RUST_LOG", "error")
        .output()
        .expect("running malha fuzz");
    let report = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "malha fuzz found violations:\n{report}\n--- log ---\n{}",
        &log[log.len().saturating_sub(3000)..]
    );
    assert!(
        report.contains("no INTERNAL, UNKNOWN or DATA_LOSS, no hang"),
        "{report}"
    );
    // The same requests went through the JSON edge too.
    assert!(report.contains("through the JSON edge: "), "{report}");
    assert!(report.contains("HTTP 400 "), "{report}");
    // A second pass over every RPC grew memory by no more than the bound.
    assert!(report.contains("memory bounded: "), "{report}");
    // Every RPC of every service was called.
    let pool = malha_kit::auth::rules::descriptor_pool();
    let rpcs = pool
        .services()
        .filter(|s| s.full_name().starts_with("malha."))
        .map(|s| s.methods().count())
        .sum::<usize>();
    assert!(report.contains(&format!("fuzzing {rpcs} RPCs")), "{report}");
}
