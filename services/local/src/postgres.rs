//! A private PostgreSQL server: initialised, started and stopped with `initdb`
//! and `pg_ctl`, listening on 127.0.0.1 only.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

use crate::binaries::PgBinaries;
use crate::ports::free_port;
use crate::process::{RunAs, Watchdog, command, run, run_sync};

/// The superuser `initdb` creates; it authenticates with `trust` on loopback.
const SUPERUSER: &str = "postgres";
/// Unix socket paths are limited to 108 bytes including `/.s.PGSQL.NNNNN` and NUL.
const SOCKET_PATH_MAX: usize = 107 - "/.s.PGSQL.65535".len();
/// How often an ephemeral start is retried with a new port when the port was taken.
const EPHEMERAL_ATTEMPTS: u32 = 3;

/// A running private PostgreSQL server.
///
/// The superuser is `postgres` with `trust` authentication; the server listens
/// on 127.0.0.1 only and keeps its Unix socket inside its own directory. It is
/// stopped by [`PgCluster::stop`], when dropped, and — through a watchdog
/// process — when this process exits without dropping it.
#[derive(Debug)]
pub struct PgCluster {
    bins: PgBinaries,
    data_dir: PathBuf,
    socket_dir: Option<PathBuf>,
    log_file: PathBuf,
    port: u16,
    ephemeral: bool,
    /// More `postgres` options (`-c name=value …`), given at every start.
    extra_options: String,
    run_as: Option<RunAs>,
    stopped: AtomicBool,
    watchdog: Option<Watchdog>,
    /// Declared last: removed after the server is stopped in `Drop`.
    temp: Option<TempDir>,
}

impl PgCluster {
    /// Starts a durable server (fsync on) on `data_dir` and `port`, for `malha up`.
    ///
    /// An existing cluster (`data_dir/PG_VERSION`) is reused, otherwise one is
    /// created. A server still running on `data_dir` from an earlier run is
    /// stopped first (so the new one gets this port and settings); a stale
    /// `postmaster.pid` left by a dead server is removed. The log goes to
    /// `data_dir/postgres.log`; on failure its last lines are in the error.
    pub async fn start(data_dir: &Path, port: u16) -> anyhow::Result<PgCluster> {
        let data_dir = std::path::absolute(data_dir)
            .with_context(|| format!("invalid data directory {}", data_dir.display()))?;
        let socket_dir = usable_socket_dir(&data_dir);
        let log_file = data_dir.join("postgres.log");
        Self::launch(data_dir, socket_dir, log_file, port, None, String::new()).await
    }

    /// Starts a throwaway server for tests: a new temp dir, a free port, and
    /// durability off (`fsync`, `synchronous_commit`, `full_page_writes`).
    /// Everything is deleted when it stops.
    pub async fn start_ephemeral() -> anyhow::Result<PgCluster> {
        Self::start_ephemeral_with(&[]).await
    }

    /// [`start_ephemeral`](Self::start_ephemeral) with more server settings,
    /// as `(name, value)` pairs (e.g. `shared_preload_libraries` for a
    /// profile); they hold across restarts too.
    pub async fn start_ephemeral_with(settings: &[(&str, &str)]) -> anyhow::Result<PgCluster> {
        let extra: String = settings
            .iter()
            .map(|(name, value)| format!(" -c {name}={}", sh_quote(value)))
            .collect();
        let mut attempt = 1;
        loop {
            let temp = tempfile::Builder::new()
                .prefix("malha-pg-")
                .tempdir()
                .context("could not create a temp dir for PostgreSQL")?;
            let root = temp.path().to_path_buf();
            let started = Self::launch(
                root.join("data"),
                usable_socket_dir(&root),
                root.join("postgres.log"),
                free_port(),
                Some(temp),
                extra.clone(),
            )
            .await;
            match started {
                // Another process took the free port between our check and the bind.
                Err(err)
                    if attempt < EPHEMERAL_ATTEMPTS
                        && format!("{err:#}").contains("already in use") =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// A connection URL for `database` as the superuser: `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates database `name` (a copy of `template1`) unless it already exists.
    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&self.url("postgres"))
            .await
            .with_context(|| format!("could not connect to PostgreSQL on port {}", self.port))?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            let sql = format!("CREATE DATABASE {}", quote_ident(name));
            let created = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
            match created {
                Ok(_) => {}
                // Created concurrently by someone else: fine.
                Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P04") => {}
                Err(err) => {
                    return Err(err).with_context(|| format!("could not create database {name}"));
                }
            }
        }
        conn.close().await?;
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast`) and waits for it to exit.
    /// Does nothing if it is already stopped; failures are reported on stderr.
    pub async fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst)
            && let Err(err) = run(self.stop_command("fast"), "pg_ctl stop").await
        {
            eprintln!("malha: {err:#}");
        }
    }

    async fn launch(
        data_dir: PathBuf,
        socket_dir: Option<PathBuf>,
        log_file: PathBuf,
        port: u16,
        temp: Option<TempDir>,
        extra_options: String,
    ) -> anyhow::Result<PgCluster> {
        let bins = PgBinaries::find()?;
        let run_as = RunAs::detect()?;
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("could not create {}", data_dir.display()))?;
        if let Some(run_as) = &run_as {
            let top = temp.as_ref().map_or(data_dir.as_path(), TempDir::path);
            run_as.chown(top)?;
        }
        let mut cluster = PgCluster {
            bins,
            data_dir,
            socket_dir,
            log_file,
            port,
            ephemeral: temp.is_some(),
            extra_options,
            run_as,
            stopped: AtomicBool::new(true),
            watchdog: None,
            temp,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        cluster.clear_previous_server().await?;
        // The watchdog exists before the server does: no window in which our
        // death would leave a server behind.
        let mode = if cluster.ephemeral {
            "immediate"
        } else {
            "fast"
        };
        let remove = cluster.temp.as_ref().map(TempDir::path);
        cluster.watchdog = Some(Watchdog::spawn(&cluster.stop_command(mode), remove)?);
        cluster.stopped.store(false, Ordering::SeqCst);
        cluster.pg_ctl_start().await?; // on error, Drop cleans up
        Ok(cluster)
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "--encoding=UTF8",
            "--no-locale",
        ]);
        if self.ephemeral {
            cmd.arg("--no-sync");
        }
        run(cmd, "initdb").await.map(drop).with_context(|| {
            let mut msg = format!("could not create a PostgreSQL cluster in {}", self.data_dir.display());
            if let Some(run_as) = &self.run_as {
                msg += &format!(
                    " (it runs as user `{}` because we are root: every parent directory must be traversable by that user)",
                    run_as.user
                );
            }
            msg
        })
    }

    /// Deals with a `postmaster.pid` left by an earlier run: a live server on
    /// this data dir is stopped, a stale file from a dead one is removed.
    async fn clear_previous_server(&self) -> anyhow::Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return Ok(());
        };
        let pid = text
            .lines()
            .next()
            .and_then(|line| line.trim().parse::<u32>().ok());
        if !Path::new("/proc/self").exists() {
            return Ok(()); // no way to check here; the server's own lock check decides
        }
        if pid.is_some_and(is_postgres_process) {
            let mut stop = self.stop_command("fast");
            stop.arg("-t").arg("60");
            run(stop, "pg_ctl stop").await.with_context(|| {
                format!(
                    "a PostgreSQL server from an earlier run is still running on {} and could not be stopped",
                    self.data_dir.display()
                )
            })?;
        } else {
            match std::fs::remove_file(&pid_file) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(err)
                        .with_context(|| format!("could not remove stale {}", pid_file.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let _ = std::fs::remove_file(&self.log_file); // the log tail then shows this start only
        let mut options = format!("-p {} -c listen_addresses=127.0.0.1", self.port);
        match &self.socket_dir {
            Some(dir) => options += &format!(" -k {}", sh_quote(&dir.to_string_lossy())),
            None => options += " -k ''",
        }
        if self.ephemeral {
            // Commit timestamps let a bench time an event from one commit to
            // the next (pg_xact_commit_timestamp).
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c track_commit_timestamp=on";
        }
        options += &self.extra_options;
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", "60", "-s", "-o"])
            .arg(options);
        run(cmd, "pg_ctl start").await.map(drop).map_err(|err| {
            anyhow!(
                "PostgreSQL did not start on port {} with data dir {}: {err:#}\n--- last lines of {} ---\n{}",
                self.port,
                self.data_dir.display(),
                self.log_file.display(),
                log_tail(&self.log_file, 20)
            )
        })
    }

    fn stop_command(&self, mode: &str) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-s"]);
        cmd
    }

    fn command(&self, program: &str) -> Command {
        command(self.run_as.as_ref(), &self.bins.program(program))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            let mode = if self.ephemeral { "immediate" } else { "fast" };
            let stopped = run_sync(self.stop_command(mode), "pg_ctl stop");
            if let Err(err) = stopped
                && self.data_dir.join("postmaster.pid").exists()
            {
                eprintln!("malha: {err:#}");
            }
        }
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.finish();
        }
    }
}

/// `dir` if a Unix socket fits in it (path length, no characters that need
/// quoting in `unix_socket_directories`); otherwise Unix sockets are disabled.
fn usable_socket_dir(dir: &Path) -> Option<PathBuf> {
    let text = dir.to_str()?;
    let plain = !text.contains([',', ' ', '"', '\'', '\\']);
    (plain && text.len() <= SOCKET_PATH_MAX).then(|| dir.to_path_buf())
}

fn is_postgres_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| matches!(comm.trim(), "postgres" | "postmaster"))
}

fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(could not read the log: {err})"),
    }
}

fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
