//! What a local `malha up` keeps in its data directory, so the one-shot
//! commands run beside it (`migrate`, `keys`) find its database and
//! key-encryption key without settings. `<data dir>` is MALHA_DATA_DIR, else
//! `.malha`:
//! - `postgres/`: the private PostgreSQL; a running server is found by its
//!   `postmaster.pid`, a stopped one is started on a free port for as long as
//!   the command needs it;
//! - `database-url`: the URL of the last `up`'s database (for people and scripts);
//! - `key-encryption-key`: the key sealing identity's signing keys (0600).

use std::path::{Path, PathBuf};

use anyhow::Context;

use malha_kit::config::Secret;
use malha_local::PgCluster;

/// The database `malha up` creates in its cluster.
pub const LOCAL_DATABASE: &str = "malha";

/// `malha up`'s data directory unless `MALHA_DATA_DIR` says otherwise.
pub const DEFAULT_DATA_DIR: &str = ".malha";

const DATABASE_URL_FILE: &str = "database-url";
const KEY_ENCRYPTION_KEY_FILE: &str = "key-encryption-key";

/// Where `malha up` keeps its data: MALHA_DATA_DIR, else `.malha`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("MALHA_DATA_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from)
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

/// The key-encryption key of the local `malha up`, if it made one.
pub fn local_key_encryption_key() -> anyhow::Result<Option<Secret>> {
    let path = data_dir().join(KEY_ENCRYPTION_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(Secret::new(text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Records the private PostgreSQL's URL in `root` for [`local_database_url`].
/// (No password: the private server trusts loopback connections.)
pub fn write_database_url(root: &Path, url: &str) -> anyhow::Result<()> {
    let path = root.join(DATABASE_URL_FILE);
    std::fs::write(&path, format!("{url}\n")).with_context(|| format!("writing {}", path.display()))
}

/// The key-encryption key of a laptop's signing keys: made once, kept with
/// the data it protects (`<root>/key-encryption-key`, mode 0600). A cluster
/// mounts its own from a Secret instead.
pub fn key_encryption_key_in(root: &Path) -> anyhow::Result<Secret> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let path = root.join(KEY_ENCRYPTION_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(Secret::new(text.trim()));
    }
    let encoded = malha_identity::wrap::KeyWrap::generate_base64();
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(encoded.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Secret::new(encoded))
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
