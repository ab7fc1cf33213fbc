//! Private servers from the machine's own binaries, no Docker: a PostgreSQL
//! cluster ([`PgCluster`], durable for `malha up` or throwaway for tests) and a
//! JetStream `nats-server` ([`NatsServer`]), and a transaction-mode
//! [`PgBouncer`] in front of the cluster. The production binary uses this
//! crate for `malha up`; the test support crate (`malha-testkit`) builds on it.

mod binaries;
mod nats;
mod pgbouncer;
mod ports;
mod postgres;
mod process;

pub use binaries::PgBinaries;
pub use nats::{NATS_INSTALL_HINT, NatsServer, find_nats_server};
pub use pgbouncer::{
    PGBOUNCER_INSTALL_HINT, PgBouncer, PgBouncerOptions, PgServer, find_pgbouncer,
};
pub use ports::free_port;
pub use postgres::PgCluster;
