//! What the server itself says about a load run: h2load sees only HTTP
//! statuses, while a gRPC error travels in a 200 response's trailers. The
//! server's `grpc_server_handled_total` series, read before and after a run,
//! count the calls that really answered OK and those that did not.

use std::collections::BTreeMap;

use anyhow::Context;

/// Calls of one method by outcome, as counted by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Outcomes {
    pub(super) ok: u64,
    /// Calls by failing gRPC code name.
    pub(super) failed: BTreeMap<String, u64>,
}

impl Outcomes {
    /// How many calls failed, whatever the code.
    pub(super) fn failures(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The calls counted since `before`.
    pub(super) fn since(&self, before: &Outcomes) -> Outcomes {
        let failed = self
            .failed
            .iter()
            .map(|(code, n)| {
                let earlier = before.failed.get(code).copied().unwrap_or(0);
                (code.clone(), n.saturating_sub(earlier))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        Outcomes {
            ok: self.ok.saturating_sub(before.ok),
            failed,
        }
    }
}

/// Reads `/metrics` on `admin` and sums the outcomes of `method` (a gRPC
/// path, `/package.Service/Method`).
pub(super) async fn read(admin: &str, method: &str) -> anyhow::Result<Outcomes> {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .context("reading the server's /metrics")?
        .text()
        .await?;
    Ok(parse(&text, method))
}

fn parse(text: &str, method: &str) -> Outcomes {
    let (service, name) = method
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or_default();
    let mut outcomes = Outcomes::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("grpc_server_handled_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels.split(',').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                (k == key).then(|| v.trim_matches('"'))
            })
        };
        if label("grpc_service") != Some(service) || label("grpc_method") != Some(name) {
            continue;
        }
        let count = value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        match label("grpc_code") {
            Some("OK") => outcomes.ok += count,
            // Load tools cancel what is still in flight when they stop.
            Some("Canceled") => {}
            code => {
                *outcomes
                    .failed
                    .entry(code.unwrap_or("?").to_owned())
                    .or_default() += count
            }
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_ok_and_failed_calls_of_one_method() {
        let text = r#"# HELP grpc_server_handled_total RPCs completed
grpc_server_handled_total{grpc_code="OK",grpc_method="GetProduct",grpc_service="malha.inventory.v1.InventoryService",grpc_type="unary"} 120
grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetProduct",grpc_service="malha.inventory.v1.InventoryService",grpc_type="unary"} 3
grpc_server_handled_total{grpc_code="Canceled",grpc_method="GetProduct",grpc_service="malha.inventory.v1.InventoryService",grpc_type="unary"} 9
grpc_server_handled_total{grpc_code="OK",grpc_method="ListProducts",grpc_service="malha.inventory.v1.InventoryService",grpc_type="unary"} 77
"#;
        let outcomes = super::parse(text, "/malha.inventory.v1.InventoryService/GetProduct");
        assert_eq!(outcomes.ok, 120);
        assert_eq!(outcomes.failures(), 3);
        assert_eq!(outcomes.failed.get("NotFound"), Some(&3));
    }
}
