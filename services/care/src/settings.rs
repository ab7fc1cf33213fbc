//! Care's own settings: how it reaches pharmacy, how long it waits on its peers, and how its
//! live watch keeps a quiet stream alive.

/// Care's flags and environment.
#[derive(Debug, Clone, clap::Args)]
pub struct CareConfig {
    /// Where pharmacy listens (items of a request are checked there).
    /// Defaults to this process's own gRPC port when it hosts pharmacy.
    /// (Identity is found at the shared `MALHA_IDENTITY_URL`.)
    #[arg(long, env = "MALHA_PHARMACY_URL")]
    pub pharmacy_url: Option<String>,

    /// Deadline of each call care makes to pharmacy or identity, in
    /// milliseconds.
    #[arg(long, env = "MALHA_CARE_CALL_DEADLINE_MS", default_value_t = 2000)]
    pub care_call_deadline_ms: u64,

    /// How long a `WatchRequests` stream stays silent before a heartbeat,
    /// in milliseconds.
    #[arg(long, env = "MALHA_CARE_WATCH_HEARTBEAT_MS", default_value_t = 15_000)]
    pub care_watch_heartbeat_ms: u64,
}

impl Default for CareConfig {
    fn default() -> Self {
        Self {
            pharmacy_url: None,
            care_call_deadline_ms: 2000,
            care_watch_heartbeat_ms: 15_000,
        }
    }
}
