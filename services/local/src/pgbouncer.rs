//! A private PgBouncer in transaction mode in front of a [`PgCluster`](crate::PgCluster),
//! as the chart's `pgbouncer.enabled` puts one in front of PostgreSQL: one
//! database alias per service schema, each server connection starting in its
//! schema (PostgreSQL 15 does not report `search_path`, so PgBouncer cannot
//! carry the client's own). Loopback only, `trust` authentication, stopped
//! when dropped and, through a watchdog, when this process dies.
//!
//! It needs PgBouncer 1.21 or newer (named prepared statements in transaction
//! mode, which sqlx uses): `./dev test` builds 1.24 into
//! `~/.cache/malha/tools/pgbouncer`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{RunAs, Watchdog, command};

/// How to install PgBouncer where it is missing.
pub const PGBOUNCER_INSTALL_HINT: &str = "./dev test builds PgBouncer 1.24 into ~/.cache/malha/tools/pgbouncer (Debian 12's 1.18 \
     cannot carry prepared statements in transaction mode); or set MALHA_PGBOUNCER to a \
     pgbouncer 1.21+ binary";

/// Where PostgreSQL is, as PgBouncer's `[databases]` entries name it.
#[derive(Debug, Clone)]
pub struct PgServer {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
}

/// How the pooler is set up.
#[derive(Debug, Clone)]
pub struct PgBouncerOptions {
    /// One alias per name (each a service schema).
    pub aliases: Vec<String>,
    /// Server connections per alias (`default_pool_size`).
    pub pool_size: u32,
    /// Client connections accepted (`max_client_conn`).
    pub max_client_conn: u32,
}

/// A running PgBouncer.
pub struct PgBouncer {
    port: u16,
    user: String,
    child: Child,
    dir: PathBuf,
    watchdog: Option<Watchdog>,
}

/// `MALHA_PGBOUNCER`, then `~/.cache/malha/tools/pgbouncer/bin/pgbouncer`, then
/// `pgbouncer` on PATH; refused if older than 1.21.
pub fn find_pgbouncer() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("MALHA_PGBOUNCER") {
        candidates.push(path.into());
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/malha/tools/pgbouncer/bin/pgbouncer"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("pgbouncer")));
    }
    candidates.push("/usr/sbin/pgbouncer".into());
    for candidate in candidates.into_iter().filter(|p| p.is_file()) {
        let version = Command::new(&candidate)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if supported(&version) {
            return Ok(candidate);
        }
    }
    bail!("no PgBouncer 1.21 or newer found; {PGBOUNCER_INSTALL_HINT}")
}

/// `PgBouncer 1.24.1` (the first line of `--version`) is 1.21 or newer.
fn supported(version: &str) -> bool {
    let Some(number) = version
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("PgBouncer "))
    else {
        return false;
    };
    let mut parts = number
        .trim()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 21)
}

/// The configuration file's text.
fn config(server: &PgServer, options: &PgBouncerOptions, port: u16, dir: &Path) -> String {
    let mut ini = String::from("[databases]\n");
    for alias in &options.aliases {
        // Each server connection starts in its schema, with the statement
        // limits the kit otherwise sends as startup options.
        let _ = writeln!(
            ini,
            "{alias} = host={} port={} dbname={} connect_query='SET search_path = {alias}; \
             SET statement_timeout = ''10s''; SET idle_in_transaction_session_timeout = ''30s'''",
            server.host, server.port, server.dbname
        );
    }
    let _ = write!(
        ini,
        "\n[pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {users}\n\
         admin_users = {user}\n\
         pool_mode = transaction\n\
         max_prepared_statements = 200\n\
         ignore_startup_parameters = extra_float_digits, options\n\
         default_pool_size = {pool}\n\
         max_client_conn = {clients}\n\
         pidfile = {pid}\n\
         logfile = {log}\n\
         log_connections = 0\n\
         log_disconnections = 0\n",
        users = dir.join("users.txt").display(),
        user = server.user,
        pool = options.pool_size,
        clients = options.max_client_conn,
        pid = dir.join("pgbouncer.pid").display(),
        log = dir.join("pgbouncer.log").display(),
    );
    ini
}

impl PgBouncer {
    /// Starts PgBouncer on `port` in `dir` (created; its config, log and pid
    /// file live there) and waits until it accepts connections.
    pub async fn start(
        dir: &Path,
        port: u16,
        server: &PgServer,
        options: &PgBouncerOptions,
    ) -> anyhow::Result<PgBouncer> {
        let found = find_pgbouncer()?;
        let dir = std::path::absolute(dir)?;
        std::fs::create_dir_all(&dir)?;
        let run_as = RunAs::detect()?;
        // PgBouncer refuses to run as root; its user may not reach root's
        // home, so it runs a copy of the binary kept beside its config.
        let binary = if run_as.is_some() {
            let copy = dir.join("pgbouncer");
            std::fs::copy(&found, &copy)
                .with_context(|| format!("copying {} into {}", found.display(), dir.display()))?;
            copy
        } else {
            found
        };
        std::fs::write(dir.join("users.txt"), format!("\"{}\" \"\"\n", server.user))?;
        std::fs::write(
            dir.join("pgbouncer.ini"),
            config(server, options, port, &dir),
        )?;
        if let Some(run_as) = &run_as {
            run_as.chown(&dir)?;
        }
        let pidfile = dir.join("pgbouncer.pid");
        let _ = std::fs::remove_file(&pidfile);
        let mut stop = Command::new("sh");
        stop.args([
            "-c",
            "kill -TERM \"$(cat \"$0\")\"",
            &pidfile.display().to_string(),
        ]);
        let watchdog = Watchdog::spawn(&stop, None)?;
        let mut cmd = command(run_as.as_ref(), &binary);
        cmd.arg(dir.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let mut bouncer = PgBouncer {
            port,
            user: server.user.clone(),
            child,
            dir,
            watchdog: Some(watchdog),
        };
        bouncer.wait_until_listening().await?;
        Ok(bouncer)
    }

    async fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "PgBouncer exited ({status}) before it listened; its log:\n{}",
                    self.log_tail(20)
                );
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!(
                    "PgBouncer did not listen on port {} within 10 s; its log:\n{}",
                    self.port,
                    self.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `postgres://<user>@127.0.0.1:<port>/<alias>`.
    pub fn url(&self, alias: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{alias}", self.user, self.port)
    }

    /// Its admin console (`SHOW POOLS;`, simple queries only).
    pub fn admin_url(&self) -> String {
        self.url("pgbouncer")
    }

    /// The process id while it runs.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops it (SIGTERM: connections close at once).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.finish(); // sends the SIGTERM
            let _ = self.child.wait();
        }
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_versions_that_carry_prepared_statements_are_used() {
        assert!(supported("PgBouncer 1.24.1\nlibevent 2.1.12-stable\n"));
        assert!(supported("PgBouncer 1.21.0"));
        assert!(supported("PgBouncer 2.0.0"));
        assert!(!supported("PgBouncer 1.18.0"));
        assert!(!supported("pgbouncer: command not found"));
    }

    #[test]
    fn every_alias_starts_in_its_schema_in_transaction_mode() {
        let server = PgServer {
            host: "127.0.0.1".into(),
            port: 5432,
            dbname: "malha".into(),
            user: "postgres".into(),
        };
        let options = PgBouncerOptions {
            aliases: vec!["inventory".into(), "orders".into()],
            pool_size: 4,
            max_client_conn: 200,
        };
        let ini = config(&server, &options, 6432, Path::new("/run/pgb"));
        assert!(ini.contains(
            "inventory = host=127.0.0.1 port=5432 dbname=malha connect_query='SET search_path = inventory;"
        ));
        assert!(ini.contains("orders = host=127.0.0.1 port=5432 dbname=malha connect_query='SET search_path = orders;"));
        assert!(ini.contains("pool_mode = transaction\n"));
        assert!(ini.contains("max_prepared_statements = 200\n"));
        assert!(ini.contains("default_pool_size = 4\n"));
    }
}
