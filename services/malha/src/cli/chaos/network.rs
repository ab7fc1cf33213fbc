//! Network faults with a real toxiproxy between the services and PostgreSQL
//! or NATS: latency beyond the calls' deadline, a black hole (data held, the
//! connection left open), connections reset. Its HTTP API adds and removes
//! the toxics (https://github.com/Shopify/toxiproxy#http-api).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::process::{Child, Command};

/// The server binary: `MALHA_TOXIPROXY_SERVER`, where `./dev` installs it,
/// or `toxiproxy-server` on PATH.
pub(super) fn find_server() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("MALHA_TOXIPROXY_SERVER") {
        return Ok(PathBuf::from(path));
    }
    let cached = std::env::var_os("HOME")
        .map(PathBuf::from)
        .map(|home| home.join(".cache/malha/tools/toxiproxy/server"));
    if let Some(cached) = cached.filter(|p| p.is_file()) {
        return Ok(cached);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("toxiproxy-server"))
        .find(|p| p.is_file())
        .context(
            "the network scenario needs toxiproxy: ./dev test installs it, or \
             GOBIN=~/.cache/malha/tools/toxiproxy go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0",
        )
}

/// A running toxiproxy server.
pub(super) struct Toxiproxy {
    api: String,
    http: reqwest::Client,
    child: Child,
}

impl Toxiproxy {
    /// Starts the server on a free port and waits for its API.
    pub(super) async fn start() -> anyhow::Result<Toxiproxy> {
        let port = malha_local::free_port();
        let child = Command::new(find_server()?)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting toxiproxy")?;
        let proxy = Toxiproxy {
            api: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            child,
        };
        let started = Instant::now();
        while proxy
            .http
            .get(format!("{}/version", proxy.api))
            .send()
            .await
            .is_err()
        {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "toxiproxy did not answer on port {port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(proxy)
    }

    /// A proxy named `name` to `upstream` (`127.0.0.1:port`); where it listens.
    pub(super) async fn proxy(&self, name: &str, upstream: &str) -> anyhow::Result<String> {
        let listen = format!("127.0.0.1:{}", malha_local::free_port());
        self.http
            .post(format!("{}/proxies", self.api))
            .json(&json!({"name": name, "listen": listen, "upstream": upstream, "enabled": true}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("creating the {name} proxy"))?;
        Ok(listen)
    }

    /// Points proxy `name` at `upstream` (created before its upstream existed).
    pub(super) async fn retarget(&self, name: &str, upstream: &str) -> anyhow::Result<()> {
        self.http
            .post(format!("{}/proxies/{name}", self.api))
            .json(&json!({"upstream": upstream, "enabled": true}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("pointing the {name} proxy at {upstream}"))?;
        Ok(())
    }

    /// Adds toxic `kind` (both directions' downstream side) to `proxy`.
    pub(super) async fn add(
        &self,
        proxy: &str,
        kind: &str,
        attributes: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.http
            .post(format!("{}/proxies/{proxy}/toxics", self.api))
            .json(&json!({"name": kind, "type": kind, "stream": "downstream", "toxicity": 1.0, "attributes": attributes}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("adding {kind} to {proxy}"))?;
        Ok(())
    }

    /// Removes toxic `kind` from `proxy`.
    pub(super) async fn remove(&self, proxy: &str, kind: &str) -> anyhow::Result<()> {
        self.http
            .delete(format!("{}/proxies/{proxy}/toxics/{kind}", self.api))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("removing {kind} from {proxy}"))?;
        Ok(())
    }

    /// Stops the server.
    pub(super) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The proxy orders reaches payments through.
pub(super) const PAYMENTS_FOR_ORDERS: &str = "payments-for-orders";

/// One network fault: the proxy, the toxic and its attributes, in words.
pub(super) struct Fault {
    pub(super) proxy: &'static str,
    pub(super) kind: &'static str,
    pub(super) attributes: serde_json::Value,
    pub(super) what: &'static str,
}

/// The faults of the `network` scenario, in order.
pub(super) fn faults() -> Vec<Fault> {
    vec![
        Fault {
            proxy: "postgres",
            kind: "latency",
            attributes: json!({"latency": 3000, "jitter": 0}),
            what: "3 s of latency to PostgreSQL (beyond the 2 s deadline)",
        },
        Fault {
            proxy: "postgres",
            kind: "timeout",
            attributes: json!({"timeout": 0}),
            what: "PostgreSQL black-holed (data held, connections left open)",
        },
        Fault {
            proxy: "postgres",
            kind: "reset_peer",
            attributes: json!({"timeout": 0}),
            what: "PostgreSQL connections reset",
        },
        Fault {
            proxy: "nats",
            kind: "timeout",
            attributes: json!({"timeout": 0}),
            what: "NATS black-holed",
        },
        // Between two services: orders asks payments for each order's Pix
        // payment while the customer waits.
        Fault {
            proxy: PAYMENTS_FOR_ORDERS,
            kind: "latency",
            attributes: json!({"latency": 3000, "jitter": 0}),
            what: "3 s of latency from orders to payments (beyond the deadline)",
        },
        Fault {
            proxy: PAYMENTS_FOR_ORDERS,
            kind: "timeout",
            attributes: json!({"timeout": 0}),
            what: "payments black-holed for orders",
        },
        Fault {
            proxy: PAYMENTS_FOR_ORDERS,
            kind: "reset_peer",
            attributes: json!({"timeout": 0}),
            what: "orders' connections to payments reset",
        },
    ]
}
