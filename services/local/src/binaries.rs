//! Locating the PostgreSQL server binaries.

use std::path::{Path, PathBuf};

use anyhow::bail;

const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory that holds the PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    bin_dir: PathBuf,
}

impl PgBinaries {
    /// Finds the server binaries: first on `PATH`, then under
    /// `/usr/lib/postgresql/*/bin`, highest major version first.
    ///
    /// A `PATH` hit that is a symlink (e.g. `/usr/local/bin/initdb`) is resolved to
    /// the real installation directory when that directory has all the programs.
    pub fn find() -> anyhow::Result<PgBinaries> {
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default();
        for dir in on_path {
            if has_all(&dir) {
                return Ok(PgBinaries {
                    bin_dir: resolve(&dir),
                });
            }
        }
        for dir in debian_bin_dirs() {
            if has_all(&dir) {
                return Ok(PgBinaries { bin_dir: dir });
            }
        }
        bail!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under \
             /usr/lib/postgresql/*/bin; install them with: sudo apt-get install -y postgresql"
        )
    }

    /// The directory the programs live in.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub(crate) fn program(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }
}

fn has_all(dir: &Path) -> bool {
    REQUIRED.iter().all(|name| dir.join(name).is_file())
}

/// Follows a symlinked `initdb` to its real directory, if that one is complete.
fn resolve(dir: &Path) -> PathBuf {
    match std::fs::canonicalize(dir.join("initdb")) {
        Ok(real) => match real.parent() {
            Some(parent) if has_all(parent) => parent.to_path_buf(),
            _ => dir.to_path_buf(),
        },
        Err(_) => dir.to_path_buf(),
    }
}

/// `/usr/lib/postgresql/<version>/bin`, highest version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(DEBIAN_ROOT) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = name
                .split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect();
            (key, entry.path().join("bin"))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_complete_bin_dir() {
        let bins = PgBinaries::find().expect("PostgreSQL installed on this machine");
        assert!(has_all(bins.bin_dir()), "{bins:?}");
    }
}
