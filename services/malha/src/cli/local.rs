//! What a `malha up` on this machine leaves in its data directory, so the
//! one-shot commands run next to it (`malha keys`, `malha migrate`) find its
//! database and key-encryption key without settings.
//!
//! `<data dir>` is `MALHA_DATA_DIR`, else `.malha` (as for `malha up`):
//! - `database-url`: the private PostgreSQL's URL, written by each `up`;
//! - `key-encryption-key`: the key sealing identity's signing keys (0600).

use std::path::{Path, PathBuf};

use anyhow::Context;
use malha_kit::config::Secret;

/// `malha up`'s data directory unless `MALHA_DATA_DIR` says otherwise.
pub(crate) const DEFAULT_DATA_DIR: &str = ".malha";

const DATABASE_URL_FILE: &str = "database-url";
const KEY_ENCRYPTION_KEY_FILE: &str = "key-encryption-key";

/// The data directory of the local `malha up`: `MALHA_DATA_DIR`, else `.malha`.
pub(crate) fn data_dir() -> PathBuf {
    std::env::var_os("MALHA_DATA_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from)
}

/// The URL of the PostgreSQL the local `malha up` runs (it must be running
/// for a connection to succeed). Errors say what to set instead.
pub(crate) fn local_database_url() -> anyhow::Result<Secret> {
    let path = data_dir().join(DATABASE_URL_FILE);
    let url = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "DATABASE_URL is not set and there is no local `malha up` here ({} is missing): \
             run this next to `malha up`, set MALHA_DATA_DIR to its data directory, or set DATABASE_URL",
            path.display()
        )
    })?;
    Ok(Secret::new(url.trim()))
}

/// The key-encryption key of the local `malha up`, if it made one.
pub(crate) fn local_key_encryption_key() -> anyhow::Result<Option<Secret>> {
    let path = data_dir().join(KEY_ENCRYPTION_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(Secret::new(text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Records the private PostgreSQL's URL in `root` for [`local_database_url`].
/// (No password: the private server trusts loopback connections.)
pub(crate) fn write_database_url(root: &Path, url: &str) -> anyhow::Result<()> {
    let path = root.join(DATABASE_URL_FILE);
    std::fs::write(&path, format!("{url}\n")).with_context(|| format!("writing {}", path.display()))
}

/// The key-encryption key of a laptop's signing keys: made once, kept with
/// the data it protects (`<root>/key-encryption-key`, mode 0600). A cluster
/// mounts its own from a Secret instead.
pub(crate) fn key_encryption_key_in(root: &Path) -> anyhow::Result<Secret> {
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
