//! The local gRPC-JSON edge (what Envoy's `grpc_json_transcoder` does in the
//! cluster): every `google.api.http` route of the contract served as JSON
//! over HTTP/1.1 and HTTP/2, transcoded to a real gRPC call on the upstream;
//! server streams as Server-Sent Events or NDJSON; `/openapi.json`;
//! `/healthz` and `/readyz`; and the static pages services contribute
//! ([`malha_kit::web::Site`], see [`start_with_sites`]).
//!
//! Nothing here names an RPC: routes, request and response messages, and the
//! OpenAPI document are all read from the descriptor set at run time
//! (`prost-reflect` messages over a dynamic tonic codec), so a new `.proto`
//! is served without a Rust edit.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let edge = malha_edge::start("127.0.0.1:8080".parse()?, "http://127.0.0.1:50051").await?;
//! println!("edge on {}", edge.addr);
//! edge.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod bindings;
mod calls;
mod codec;
mod http_body;
mod json;
mod openapi;
mod pages;
mod request;
mod router;
mod server;
mod status;
mod stream;
mod template;
#[cfg(test)]
mod tests;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use prost_reflect::DescriptorPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use calls::{HttpCall, http_calls};
pub use status::{http_status, status_json};
pub use upstream::Upstreams;

/// The contract's descriptor pool (decoded once, shared with the kit).
fn pool() -> &'static DescriptorPool {
    malha_kit::auth::rules::descriptor_pool()
}

/// The OpenAPI 3.1 document of every HTTP route of the contract (what
/// `/openapi.json` serves and `malha openapi` writes).
pub fn openapi() -> serde_json::Value {
    openapi::contract().expect("the contract's HTTP bindings are valid (checked by the tests)")
}

/// Serves the edge on `listener`, proxying to the gRPC server at `upstream`
/// (e.g. `http://127.0.0.1:50051`, or [`Upstreams`] by service), until
/// `shutdown` resolves; in-flight requests then finish.
pub async fn serve(
    listener: TcpListener,
    upstream: impl Into<Upstreams>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    start_on(listener, upstream)?.run_until(shutdown).await
}

fn build(
    pool: DescriptorPool,
    upstreams: &Upstreams,
    sites: &'static [&'static malha_kit::web::Site],
) -> anyhow::Result<server::Edge> {
    let bindings = bindings::all(&pool).context("reading the contract's HTTP bindings")?;
    let openapi = serde_json::to_vec(&openapi::document(&pool, &bindings))?.into();
    Ok(server::Edge {
        router: router::Router::new(bindings),
        pool,
        upstreams: upstreams.connect()?,
        openapi,
        pages: pages::router(sites)?,
    })
}

/// A running edge (see [`start`]).
pub struct RunningEdge {
    /// Where it listens (the real port when bound to port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningEdge {
    /// Stops accepting; in-flight requests finish.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the edge has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("edge task panicked")?
    }

    /// Shuts down when `signal` resolves, then waits.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        self.shutdown();
        self.wait().await
    }
}

/// Binds `addr` and serves the edge in the background, proxying to
/// `upstream`. Returns once the listener accepts connections.
pub async fn start(
    addr: SocketAddr,
    upstream: impl Into<Upstreams>,
) -> anyhow::Result<RunningEdge> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the edge address {addr}"))?;
    start_on(listener, upstream)
}

/// Serves the edge on an already bound `listener` in the background.
pub fn start_on(
    listener: TcpListener,
    upstream: impl Into<Upstreams>,
) -> anyhow::Result<RunningEdge> {
    start_with_pool(listener, upstream.into(), pool().clone())
}

/// [`start`], also serving the pages of `sites` (what the binary's
/// registry lists).
pub async fn start_with_sites(
    addr: SocketAddr,
    upstream: impl Into<Upstreams>,
    sites: &'static [&'static malha_kit::web::Site],
) -> anyhow::Result<RunningEdge> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the edge address {addr}"))?;
    spawn(listener, upstream.into(), pool().clone(), sites)
}

/// [`start_on`] with the routes of another descriptor pool (tests).
fn start_with_pool(
    listener: TcpListener,
    upstream: Upstreams,
    pool: DescriptorPool,
) -> anyhow::Result<RunningEdge> {
    spawn(listener, upstream, pool, &[])
}

fn spawn(
    listener: TcpListener,
    upstream: Upstreams,
    pool: DescriptorPool,
    sites: &'static [&'static malha_kit::web::Site],
) -> anyhow::Result<RunningEdge> {
    let addr = listener.local_addr()?;
    // Built here so a bad upstream URL, contract or site fails the caller now.
    let edge = Arc::new(build(pool, &upstream, sites)?);
    let (stop, mut stopped) = watch::channel(false);
    let upstream = upstream.to_string();
    let task = tokio::spawn(async move {
        tracing::info!(%addr, %upstream, "edge serving");
        axum::serve(listener, server::app(edge))
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
            .context("serving the edge")
    });
    Ok(RunningEdge { addr, stop, task })
}
