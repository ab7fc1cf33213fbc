//! Orders' own settings: how it reaches payments.

/// Orders' flags and environment: how it reaches payments.
#[derive(Debug, Clone, clap::Args)]
pub struct OrdersConfig {
    /// Where payments listens. Defaults to this process's own gRPC port when
    /// it hosts payments.
    #[arg(long, env = "MALHA_PAYMENTS_URL")]
    pub payments_url: Option<String>,

    /// Deadline of a call to payments, in milliseconds.
    #[arg(long, env = "MALHA_PAYMENTS_DEADLINE_MS", default_value_t = 3000)]
    pub payments_deadline_ms: u64,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            payments_url: None,
            payments_deadline_ms: 3000,
        }
    }
}
