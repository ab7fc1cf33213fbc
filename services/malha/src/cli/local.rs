//! The database of a local `malha up`, for one-shot commands (`migrate`,
//! `keys`) run beside it without DATABASE_URL. `up` keeps its PostgreSQL in
//! `<data dir>/postgres` (`.malha` unless MALHA_DATA_DIR says otherwise): a
//! running server is found by its `postmaster.pid`; a stopped one is started
//! on a free port for as long as the command needs it.

use std::path::{Path, PathBuf};

use anyhow::Context;

use malha_kit::config::Secret;
use malha_local::PgCluster;

/// The database `malha up` creates in its cluster.
pub const LOCAL_DATABASE: &str = "malha";

/// Where `malha up` keeps its data: MALHA_DATA_DIR, else `.malha`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("MALHA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".malha"))
}

/// The local database; holds the cluster this command started, if any, and
/// stops it when dropped.
#[derive(Debug)]
pub struct LocalDatabase {
    /// Its URL.
    pub url: Secret,
    started: Option<PgCluster>,
}

impl LocalDatabase {
    /// Stops the cluster this command started (a running `malha up`'s is
    /// left alone).
    pub async fn close(self) {
        if let Some(cluster) = self.started {
            cluster.stop().await;
        }
    }
}

/// `configured` if given, else the database of the `malha up` in [`data_dir`].
pub async fn database_url_or_local(configured: Option<Secret>) -> anyhow::Result<LocalDatabase> {
    match configured {
        Some(url) => Ok(LocalDatabase { url, started: None }),
        None => local_database(&data_dir()).await,
    }
}

/// The URL of the database of a *running* `malha up` in [`data_dir`]; an
/// error saying what to do when there is none. (Use
/// [`database_url_or_local`] to reach a stopped one too.)
pub fn local_database_url() -> anyhow::Result<Secret> {
    let data_dir = data_dir();
    running_port(&data_dir.join("postgres"))
        .map(|port| Secret::new(local_url(port)))
        .with_context(|| {
            format!(
                "DATABASE_URL is not set and no `malha up` is running on {} \
                 (start `malha up`, or set DATABASE_URL)",
                data_dir.display()
            )
        })
}

/// The database of the `malha up` whose data directory is `data_dir`.
pub async fn local_database(data_dir: &Path) -> anyhow::Result<LocalDatabase> {
    let cluster_dir = data_dir.join("postgres");
    anyhow::ensure!(
        cluster_dir.join("PG_VERSION").is_file(),
        "DATABASE_URL is not set and there is no local database in {} \
         (run `malha up` first, or set DATABASE_URL)",
        data_dir.display()
    );
    if let Some(port) = running_port(&cluster_dir) {
        return Ok(LocalDatabase {
            url: Secret::new(local_url(port)),
            started: None,
        });
    }
    let port = malha_local::free_port();
    eprintln!(
        "starting the local PostgreSQL in {} on port {port} for this command",
        cluster_dir.display()
    );
    let cluster = PgCluster::start(&cluster_dir, port)
        .await
        .with_context(|| format!("starting the local PostgreSQL in {}", cluster_dir.display()))?;
    cluster.create_database(LOCAL_DATABASE).await?;
    Ok(LocalDatabase {
        url: Secret::new(cluster.url(LOCAL_DATABASE)),
        started: Some(cluster),
    })
}

fn local_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{LOCAL_DATABASE}")
}

/// The port of the server running on `cluster_dir`, from its
/// `postmaster.pid` (pid on line 1, port on line 4), if that process lives.
fn running_port(cluster_dir: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let pid: u32 = lines.first()?.trim().parse().ok()?;
    let port: u16 = lines.get(3)?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_postmaster_pid_gives_the_port_and_a_dead_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        std::fs::write(
            dir.path().join("postmaster.pid"),
            format!("{me}\n/data\n1700000000\n54329\n/tmp\n127.0.0.1\n"),
        )
        .unwrap();
        assert_eq!(running_port(dir.path()), Some(54329));
        std::fs::write(
            dir.path().join("postmaster.pid"),
            "999999999\n/data\n1700000000\n54329\n",
        )
        .unwrap();
        assert_eq!(running_port(dir.path()), None);
    }
}
