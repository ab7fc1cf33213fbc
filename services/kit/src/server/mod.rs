//! The gRPC server every target runs: the hosted services behind the kit
//! layer, `grpc.health.v1` whose readiness follows each service's
//! dependencies, server reflection (v1 and v1alpha), an admin HTTP port, and a
//! graceful drain on SIGTERM/Ctrl-C.

mod admin;
mod layer;
mod readiness;

pub use layer::KitLayer;
pub use readiness::Dependency;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::RoutesBuilder;

use crate::auth::{PolicyTable, RolePermissions, Verifier};
use crate::telemetry::Metrics;

/// A service that can be hosted by the server.
pub trait Hosted: Send + Sync + 'static {
    /// The target name, e.g. `identity`.
    fn name(&self) -> &'static str;
    /// Its gRPC service and role→permission map.
    fn permissions(&self) -> &'static RolePermissions;
    /// Adds its tonic service(s) to the router.
    fn register(&self, routes: &mut RoutesBuilder);
    /// What must be reachable for it to serve.
    fn dependencies(&self) -> Vec<Dependency>;
    /// Its own token verifier, for a service that holds the keys itself
    /// (identity); the others share the server's.
    fn verifier(&self) -> Option<Verifier> {
        None
    }
    /// Starts its background work (outbox relay, event consumers), which
    /// must end when `stop` turns true.
    fn start_background(&self, stop: watch::Receiver<bool>) {
        let _ = stop;
    }
}

/// Everything needed to start a server.
pub struct ServerSpec {
    /// The gRPC listener (bind port 0 in tests).
    pub grpc: TcpListener,
    /// The admin HTTP listener.
    pub admin: TcpListener,
    /// Hosted services.
    pub services: Vec<Arc<dyn Hosted>>,
    /// Token verifier shared by every hosted service.
    pub verifier: Verifier,
    /// Health NOT_SERVING → listener closed.
    pub shutdown_delay: Duration,
    /// Listener closed → in-flight calls abandoned.
    pub shutdown_grace: Duration,
    /// Connections older than this are asked to reconnect (rebalancing).
    pub max_connection_age: Duration,
}

/// A running server.
pub struct RunningServer {
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// Where the admin HTTP port listens.
    pub admin_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Starts the drain (as SIGTERM would).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
    }

    /// Drains when `signal` resolves (see [`shutdown_signal`]), then returns
    /// when stopped.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutdown signal received; draining");
            let _ = stop.send(true);
        });
        self.wait().await
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when
/// this is called, not when first polled, so call it first thing in `main`:
/// a signal during start-up is then handled once serving begins.
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

/// Starts serving; returns once both listeners accept connections.
pub fn start(spec: ServerSpec) -> anyhow::Result<RunningServer> {
    let grpc_addr = spec.grpc.local_addr()?;
    let admin_addr = spec.admin.local_addr()?;
    let hosted: Vec<&'static RolePermissions> =
        spec.services.iter().map(|s| s.permissions()).collect();
    let policies = PolicyTable::build(&hosted)?;
    let metrics = Metrics::new()?;
    for service in &spec.services {
        for dependency in service.dependencies() {
            if let Dependency::Postgres { pool, .. } = dependency {
                metrics.watch_pool(service.name(), pool);
            }
        }
    }
    let own_verifiers = spec
        .services
        .iter()
        .filter_map(|s| Some((s.permissions().service, s.verifier()?)))
        .collect();
    let targets = spec
        .services
        .iter()
        .map(|s| (s.permissions().service, s.name()))
        .collect();
    let layer = KitLayer::new(
        &policies,
        spec.verifier.clone(),
        own_verifiers,
        &targets,
        &metrics,
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(malha_api::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let mut routes = RoutesBuilder::default();
    for service in &spec.services {
        service.register(&mut routes);
    }
    routes.add_service(health_service);
    routes.add_service(reflection().build_v1()?);
    routes.add_service(reflection().build_v1alpha()?);

    let (stop, stop_rx) = watch::channel(false);
    for service in &spec.services {
        // Its relay and consumers trace as the service (telemetry::with_target).
        crate::telemetry::with_target(service.name(), || {
            service.start_background(stop_rx.clone());
        });
    }
    let ready = readiness::spawn(health.clone(), &spec.services, stop_rx.clone());
    let admin = admin::serve(spec.admin, metrics, ready, stop_rx.clone());

    let incoming = TcpListenerStream::new(spec.grpc).map(|conn| {
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    let server = tonic::transport::Server::builder()
        .max_connection_age(spec.max_connection_age)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // Browsers speak gRPC-Web over HTTP/1.1 (or h2).
        .accept_http1(true)
        // Layers run outermost first. gRPC-Web is translated before anything
        // else, so the kit layer (trace, auth, metrics) sees every call as
        // plain gRPC, and its errors are translated back for the browser.
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(layer)
        .add_routes(routes.routes());

    let mut drained = stop_rx.clone();
    let (delay, grace) = (spec.shutdown_delay, spec.shutdown_grace);
    let names: Vec<&'static str> = spec
        .services
        .iter()
        .map(|s| s.permissions().service)
        .collect();
    let signal = async move {
        let _ = drained.wait_for(|stop| *stop).await;
        readiness::set_all_not_serving(&health, &names).await;
        tokio::time::sleep(delay).await;
    };
    let mut forced = stop_rx;
    let task = tokio::spawn(async move {
        let serve = server.serve_with_incoming_shutdown(incoming, signal);
        tokio::pin!(serve);
        let result = tokio::select! {
            result = &mut serve => result.map_err(anyhow::Error::from),
            () = async {
                let _ = forced.wait_for(|stop| *stop).await;
                tokio::time::sleep(delay + grace).await;
            } => {
                tracing::warn!("grace period over; abandoning in-flight calls");
                Ok(())
            }
        };
        let _ = admin.await;
        result
    });
    tracing::info!(grpc = %grpc_addr, admin = %admin_addr, "serving");
    Ok(RunningServer {
        grpc_addr,
        admin_addr,
        stop,
        task,
    })
}
