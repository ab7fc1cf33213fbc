//! The connection to NATS JetStream and the streams Malha uses: one stream
//! per producing service (`<service>.>`), plus the dead-letter stream.

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, stream};

/// Subjects of dead letters: `deadletter.<consumer>`.
pub const DEAD_LETTER_PREFIX: &str = "deadletter";

/// A JetStream connection; connects (and reconnects) in the background, so a
/// service starts while NATS is down and reports NOT_SERVING until it is up.
#[derive(Clone)]
pub struct EventBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

impl EventBus {
    /// Connects to `url`, retrying forever in the background.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("malha")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        let jetstream = jetstream::new(client.clone());
        Ok(Self { client, jetstream })
    }

    /// True while the connection is up.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The core client (for `malha events tail`).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Creates, if missing, the stream holding `source`'s events.
    pub async fn ensure_stream(&self, source: &str) -> anyhow::Result<()> {
        self.jetstream
            .get_or_create_stream(stream::Config {
                name: stream_name(source),
                subjects: vec![format!("{source}.>")],
                storage: stream::StorageType::File,
                max_age: Duration::from_secs(7 * 24 * 3600),
                // The relay may resend after a crash; the broker drops resends
                // of the same event id within this window.
                duplicate_window: Duration::from_secs(10 * 60),
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("creating the {source} stream: {e}"))?;
        Ok(())
    }

    /// Creates, if missing, the dead-letter stream.
    pub async fn ensure_dead_letters(&self) -> anyhow::Result<()> {
        self.ensure_stream(DEAD_LETTER_PREFIX).await
    }
}

/// The JetStream stream of a source service: `EVENTS_<SOURCE>`.
pub fn stream_name(source: &str) -> String {
    format!("EVENTS_{}", source.to_ascii_uppercase())
}
