//! Where the edge sends each call: one gRPC server that hosts every service,
//! or one server per gRPC service package, as when every target runs as its
//! own process (`malha up --split`; Envoy's per-cluster routes in
//! Kubernetes). The edge matches a call's gRPC service name against the
//! prefixes it was given, longest first; the rest go to the default.

use std::fmt;

use anyhow::Context;
use tonic::transport::Channel;

/// The upstream URLs: a default and routes by gRPC service name prefix. A
/// URL may list several replicas, comma-separated (calls are spread over
/// them: `malha_kit::clients::channel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstreams {
    default: String,
    routes: Vec<(String, String)>,
}

impl Upstreams {
    /// Every call to `url`.
    pub fn single(url: impl Into<String>) -> Self {
        Self {
            default: url.into(),
            routes: Vec::new(),
        }
    }

    /// Calls to gRPC services whose full name starts with `service_prefix`
    /// (e.g. `malha.orders.`) go to `url`.
    #[must_use]
    pub fn route(mut self, service_prefix: impl Into<String>, url: impl Into<String>) -> Self {
        self.routes.push((service_prefix.into(), url.into()));
        // Longest prefix first, so `malha.a.b.` wins over `malha.a.`.
        self.routes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        self
    }

    pub(crate) fn connect(&self) -> anyhow::Result<Channels> {
        let open = |url: &str| {
            malha_kit::clients::channel(url).with_context(|| format!("the upstream URL {url:?}"))
        };
        Ok(Channels {
            default: open(&self.default)?,
            routes: self
                .routes
                .iter()
                .map(|(prefix, url)| Ok((prefix.clone(), open(url)?)))
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

impl From<&str> for Upstreams {
    fn from(url: &str) -> Self {
        Self::single(url)
    }
}

impl From<String> for Upstreams {
    fn from(url: String) -> Self {
        Self::single(url)
    }
}

impl From<&String> for Upstreams {
    fn from(url: &String) -> Self {
        Self::single(url.as_str())
    }
}

impl fmt::Display for Upstreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.default)?;
        for (prefix, url) in &self.routes {
            write!(f, ", {prefix}* -> {url}")?;
        }
        Ok(())
    }
}

/// The open channels of [`Upstreams`].
pub(crate) struct Channels {
    default: Channel,
    routes: Vec<(String, Channel)>,
}

impl Channels {
    /// The channel for calls to the gRPC service `service` (its full name).
    pub(crate) fn for_service(&self, service: &str) -> &Channel {
        self.routes
            .iter()
            .find(|(prefix, _)| service.starts_with(prefix.as_str()))
            .map_or(&self.default, |(_, channel)| channel)
    }

    /// Every distinct upstream (readiness asks each of them).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Channel> {
        std::iter::once(&self.default).chain(self.routes.iter().map(|(_, channel)| channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_go_to_the_longest_matching_prefix_else_the_default() {
        let upstreams = Upstreams::single("http://127.0.0.1:1")
            .route("malha.orders.", "http://127.0.0.1:2")
            .route("malha.orders.admin.", "http://127.0.0.1:3");
        assert_eq!(
            upstreams.to_string(),
            "http://127.0.0.1:1, malha.orders.admin.* -> http://127.0.0.1:3, malha.orders.* -> http://127.0.0.1:2"
        );
        let channels = upstreams.connect().unwrap();
        let pick = |service: &str| {
            let chosen = channels.for_service(service) as *const Channel;
            channels
                .all()
                .position(|c| std::ptr::eq(c, chosen))
                .unwrap()
        };
        assert_eq!(pick("malha.identity.v1.IdentityService"), 0);
        assert_eq!(pick("malha.orders.admin.v1.X"), 1);
        assert_eq!(pick("malha.orders.v1.OrdersService"), 2);
        assert_eq!(pick("grpc.health.v1.Health"), 0);
    }
}
