//! `malha events tail [subject]`: prints events as they flow, decoded as JSON
//! with the contract's descriptors, for people debugging a flow.

use futures::StreamExt;
use prost::Message;

use malha_kit::events::{Envelope, decode_payload};

/// Arguments of `events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub command: EventsCommand,
    /// NATS URL.
    #[arg(
        long,
        env = "MALHA_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    pub nats_url: String,
}

/// Event tools.
#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// Print events as they are published (default: every subject, `>`).
    Tail {
        /// A NATS subject or wildcard, e.g. `projects.>` or `inventory.stock.*`.
        #[arg(default_value = ">")]
        subject: String,
    },
}

pub(super) async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let EventsCommand::Tail { subject } = args.command;
    let client = async_nats::connect(&args.nats_url).await?;
    let mut messages = client.subscribe(subject.clone()).await?;
    // Make sure the server has the subscription before saying we are ready.
    client.flush().await?;
    eprintln!("tailing {subject} on {} (Ctrl-C to stop)", args.nats_url);
    while let Some(message) = messages.next().await {
        // Internal JetStream traffic ($JS.*) and replies are not events.
        if message.subject.starts_with("$") || message.subject.starts_with("_INBOX") {
            continue;
        }
        let line = match Envelope::decode(message.payload.as_ref()) {
            Ok(envelope) => {
                let payload = decode_payload(&envelope)
                    .unwrap_or_else(|e| serde_json::json!({ "undecodable": e.to_string() }));
                serde_json::json!({
                    "subject": message.subject.as_str(),
                    "id": envelope.id,
                    "type": envelope.r#type,
                    "source": envelope.source,
                    "time": envelope.time.map(|t| chrono::DateTime::from_timestamp(t.seconds, 0).map(|d| d.to_rfc3339())),
                    "traceparent": envelope.traceparent,
                    "payload": payload,
                })
            }
            Err(_) => serde_json::json!({
                "subject": message.subject.as_str(),
                "raw": String::from_utf8_lossy(&message.payload),
            }),
        };
        println!("{line}");
    }
    Ok(())
}
