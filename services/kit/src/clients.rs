//! Outgoing gRPC calls to other Malha services: a lazily connected channel
//! wrapped so every call carries a deadline, the W3C trace context of the
//! current span, and a bearer token — the caller's (when forwarded
//! explicitly with [`forward_caller`]) or the service's own, obtained with
//! client credentials and refreshed before it expires.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint};
use tower::Service;

use crate::auth::BearerToken;
use crate::config::Secret;
use crate::telemetry::inject_context;
use malha_api::identity::{
    IssueServiceTokenRequest, identity_service_client::IdentityServiceClient,
};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A service account's client credentials.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The account's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
}

/// Mints a service's access token without a network call: identity, when
/// it is served by the same process as the service.
pub trait MintToken: Send + Sync {
    /// A fresh access token and its lifetime.
    fn mint(&self) -> BoxFuture<'_, Result<(String, Duration), tonic::Status>>;
}

enum Source {
    /// The client credentials grant against identity.
    Credentials {
        identity: Channel,
        credentials: ClientCredentials,
    },
    /// Identity in this process.
    Local(Arc<dyn MintToken>),
}

/// The service's own access token, obtained from identity and renewed when
/// 80 % of its lifetime has passed.
pub struct ServiceToken {
    source: Source,
    current: tokio::sync::Mutex<Option<(Arc<str>, Instant)>>,
}

impl ServiceToken {
    /// A token source using identity at `identity`.
    pub fn new(identity: Channel, credentials: ClientCredentials) -> Self {
        Self::from_source(Source::Credentials {
            identity,
            credentials,
        })
    }

    /// A token source minting with identity in this process.
    pub fn local(minter: Arc<dyn MintToken>) -> Self {
        Self::from_source(Source::Local(minter))
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid token, renewing it first when it is close to expiry.
    pub async fn token(&self) -> Result<Arc<str>, tonic::Status> {
        let mut current = self.current.lock().await;
        if let Some((token, renew_at)) = current.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(Arc::clone(token));
        }
        let (token, lifetime) = match &self.source {
            Source::Credentials {
                identity,
                credentials,
            } => issue(identity, credentials).await?,
            Source::Local(minter) => minter.mint().await?,
        };
        let token: Arc<str> = token.into();
        *current = Some((Arc::clone(&token), Instant::now() + lifetime.mul_f64(0.8)));
        Ok(token)
    }
}

/// The client credentials grant: a token and its lifetime.
async fn issue(
    identity: &Channel,
    credentials: &ClientCredentials,
) -> Result<(String, Duration), tonic::Status> {
    let response = IdentityServiceClient::new(identity.clone())
        .issue_service_token(IssueServiceTokenRequest {
            client_id: credentials.client_id.clone(),
            client_secret: credentials.client_secret.expose().to_owned(),
        })
        .await?
        .into_inner();
    let tokens = response
        .tokens
        .ok_or_else(|| tonic::Status::internal("identity returned no token"))?;
    let lifetime = Duration::from_secs(u64::try_from(tokens.expires_in).unwrap_or(0));
    Ok((tokens.access_token, lifetime))
}

fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30)))
}

/// A channel to `url` that never fails at start-up (connection errors
/// surface per call). When the host is a DNS name (a headless Kubernetes
/// Service), every address it resolves to gets a connection and calls are
/// spread over them (client-side load balancing: kube-proxy balances
/// connections, not requests); the name is resolved again every 10 s, so new
/// replicas join and gone ones leave. A comma-separated list of `IP:port`
/// URLs (the replicas of `malha up --split --replicas`) spreads calls over
/// those that accept connections, probed every second, so a stopped replica
/// leaves and a restarted one joins, as in a Service's endpoints.
pub fn channel(url: &str) -> anyhow::Result<Channel> {
    if url.contains(',') {
        let mut addrs = Vec::new();
        for one in url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let uri: http::Uri = one.parse()?;
            let addr = uri
                .authority()
                .map(|a| a.as_str())
                .unwrap_or_default()
                .parse::<std::net::SocketAddr>()
                .with_context(|| format!("{one:?}: a list of URLs takes IP:port addresses"))?;
            addrs.push(addr);
        }
        let scheme = url.split("://").next().unwrap_or("http").trim().to_owned();
        return balanced(scheme, Duration::from_secs(1), move || {
            let addrs = addrs.clone();
            async move {
                let probes = addrs.iter().map(|addr| async move {
                    let connect = tokio::net::TcpStream::connect(addr);
                    matches!(
                        tokio::time::timeout(Duration::from_millis(300), connect).await,
                        Ok(Ok(_))
                    )
                    .then_some(*addr)
                });
                Some(
                    futures::future::join_all(probes)
                        .await
                        .into_iter()
                        .flatten()
                        .collect(),
                )
            }
        });
    }
    let uri: http::Uri = url.parse()?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(|c| c == '[' || c == ']');
    if host.parse::<std::net::IpAddr>().is_ok() || host == "localhost" {
        return Ok(endpoint(url)?.connect_lazy());
    }
    let scheme = uri.scheme_str().unwrap_or("http").to_owned();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let target = format!("{host}:{port}");
    balanced(scheme, Duration::from_secs(10), move || {
        let target = target.clone();
        async move {
            tokio::net::lookup_host(&target)
                .await
                .ok()
                .map(Iterator::collect)
        }
    })
}

/// A channel over the addresses `find` answers, asked again every `period`
/// (`None`: keep what is known).
fn balanced<F, Fut>(scheme: String, period: Duration, find: F) -> anyhow::Result<Channel>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Option<std::collections::HashSet<std::net::SocketAddr>>> + Send,
{
    let (channel, changes) = Channel::balance_channel::<std::net::SocketAddr>(64);
    tokio::runtime::Handle::try_current()?.spawn(async move {
        let mut known = std::collections::HashSet::new();
        loop {
            if let Some(found) = find().await {
                for gone in known.difference(&found) {
                    let _ = changes
                        .send(tonic::transport::channel::Change::Remove(*gone))
                        .await;
                }
                for new in found.difference(&known) {
                    if let Ok(endpoint) = endpoint(&format!("{scheme}://{new}")) {
                        let _ = changes
                            .send(tonic::transport::channel::Change::Insert(*new, endpoint))
                            .await;
                    }
                }
                known = found;
            }
            if changes.is_closed() {
                return;
            }
            tokio::time::sleep(period).await;
        }
    });
    Ok(channel)
}

/// Copies the incoming caller's token onto an outgoing request, so the
/// downstream service authorizes the end user rather than this service.
pub fn forward_caller<A, B>(incoming: &tonic::Request<A>, outgoing: &mut tonic::Request<B>) {
    if let Some(BearerToken(token)) = incoming.extensions().get::<BearerToken>()
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        outgoing.metadata_mut().insert("authorization", value);
    }
}

/// A channel that adds deadline, trace context and the service token.
#[derive(Clone)]
pub struct Propagating {
    inner: Channel,
    token: Option<Arc<ServiceToken>>,
    deadline: Duration,
}

impl Propagating {
    /// Wraps `inner`; calls without a caller token use `token` (if any).
    pub fn new(inner: Channel, token: Option<Arc<ServiceToken>>, deadline: Duration) -> Self {
        Self {
            inner,
            token,
            deadline,
        }
    }
}

impl Service<http::Request<Body>> for Propagating {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let token = self.token.clone();
        let deadline = self.deadline;
        let span = client_span(request.uri().path());
        inject_context(&span, request.headers_mut());
        let call_span = span.clone();
        Box::pin(async move {
            let headers = request.headers_mut();
            if !headers.contains_key("grpc-timeout") {
                let millis = deadline.as_millis().min(99_999_999);
                if let Ok(value) = format!("{millis}m").parse() {
                    headers.insert("grpc-timeout", value);
                }
            }
            if !headers.contains_key(http::header::AUTHORIZATION)
                && let Some(source) = token
            {
                match source.token().await {
                    Ok(token) => {
                        if let Ok(value) = format!("Bearer {token}").parse() {
                            headers.insert(http::header::AUTHORIZATION, value);
                        }
                    }
                    Err(status) => {
                        tracing::warn!(error = %status.message(), "could not obtain the service token");
                        return Ok(status.into_http());
                    }
                }
            }
            // The deadline also bounds the wait for a connection (a callee
            // with no reachable replica answers UNAVAILABLE, not never).
            let response = match tokio::time::timeout(deadline, inner.call(request)).await {
                Ok(result) => result,
                Err(_) => Ok(tonic::Status::deadline_exceeded(
                    "the callee did not answer within the deadline",
                )
                .into_http()),
            };
            // A trailers-only answer (an error) says its code now; a message
            // carries it in trailers, after this span has ended.
            if let Ok(response) = &response
                && let Some(code) = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i64>().ok())
            {
                call_span.set_attribute("rpc.grpc.status_code", code);
            }
            response
        }
        .instrument(span))
    }
}

/// The client span of a call to `path` (`/package.Service/Method`), with
/// the `rpc.*` attributes of OpenTelemetry's RPC conventions.
fn client_span(path: &str) -> tracing::Span {
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""));
    tracing::info_span!(
        "grpc client",
        otel.name = path.trim_start_matches('/'),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
    )
}
