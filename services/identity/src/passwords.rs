//! Password hashing with argon2id (OWASP parameters: 19 MiB, t=2, p=1) on a
//! fixed set of threads of its own, never on the async runtime: a login
//! storm queues here instead of starving every other RPC.
//!
//! Each thread allocates its 19 MiB working set once, at its first hash, and
//! hashes in it from then on. Allocating it per hash cost a 19 MiB page-in
//! per login, and left the process's RSS to the allocator: a freed block was
//! sometimes kept by the thread's arena and sometimes returned, so the soak
//! saw identity's RSS step by exactly 19,456 KiB. Now a thread's working set
//! is paged in once, at its first hash, and that is all hashing ever uses; an
//! idle identity that nobody has logged in to holds none of it.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

/// A thread's argon2 working set, sized for the default parameters.
type Memory = Vec<Block>;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// Bytes of salt in a new hash (the PHC recommendation).
const SALT_LEN: usize = 16;

/// Hashes and verifies passwords off the runtime.
#[derive(Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
}

impl Default for Passwords {
    /// Half the cores (at least one): a login storm may take that much CPU,
    /// the rest stays free for every other RPC.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self::new(cores / 2)
    }
}

impl Passwords {
    /// At most `concurrency` hashes run at once, each on one of as many
    /// threads; they end when the last clone is dropped.
    pub fn new(concurrency: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let mut memory: Memory = Vec::new();
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        if memory.is_empty() {
                            // Written through once, at the first hash: its
                            // pages stay resident from then on.
                            memory = vec![Block::new(); Params::default().block_count()];
                        }
                        job(&mut memory);
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `work` on a hashing thread; `None` if none is left.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }

    /// The PHC string of `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        self.run(move |memory| {
            hash_new(memory, password.as_bytes())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await
        .unwrap_or_else(|| Err(anyhow::anyhow!("no password hashing thread is running")))
    }

    /// True when `password` matches `hash`. With no hash (unknown user) it
    /// still spends the same time on a dummy hash, so timing tells nothing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        self.run(move |memory| {
            let stored = hash.as_deref().unwrap_or_else(|| dummy_hash());
            matches(memory, password.as_bytes(), stored) && hash.is_some()
        })
        .await
        .unwrap_or(false)
    }
}

/// argon2id with the default parameters and a fresh salt, in `memory`.
fn hash_new(memory: &mut Memory, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let salt = Salt::new(&rand::random::<[u8; SALT_LEN]>())?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        memory,
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password,
        &salt,
        &mut out,
    )?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    }
    .to_string())
}

/// Whether `password` hashes to the PHC string `stored`, with the
/// algorithm, version and parameters `stored` names (older hashes keep
/// verifying after the defaults change). Compared in constant time.
fn matches(memory: &mut Memory, password: &[u8], stored: &str) -> bool {
    let mut verified = || -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(stored)?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str())?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let mut out = vec![0u8; expected.len()];
        compute(
            memory, algorithm, version, &params, password, &salt, &mut out,
        )?;
        Ok(Output::new(&out)? == expected)
    };
    verified().unwrap_or(false)
}

/// One argon2 computation in the thread's working set (a hash whose
/// parameters need more, an old one, gets a working set of its own).
fn compute(
    memory: &mut Memory,
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let blocks = params.block_count();
    if blocks <= memory.len() {
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
    } else {
        argon2.hash_password_into(password, salt, out)
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut memory = Vec::new();
        hash_new(&mut memory, b"malha dummy password for unknown users").unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let passwords = Passwords::new(2);
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
        );
        assert!(!passwords.verify("wrong horse".into(), Some(hash)).await);
        assert!(!passwords.verify("correct horse".into(), None).await);
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crate_and_older_parameters_still_verify() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let passwords = Passwords::new(1);
        let ours = passwords.hash("correct horse".into()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        // Stored by an earlier Malha, or with parameters that need more
        // memory than the thread's working set: verified all the same.
        for params in [
            Params::new(4096, 3, 1, None),
            Params::new(32768, 1, 1, None),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.unwrap())
                .hash_password(b"correct horse")
                .unwrap()
                .to_string();
            assert!(
                passwords
                    .verify("correct horse".into(), Some(theirs.clone()))
                    .await
            );
            assert!(!passwords.verify("correct horsE".into(), Some(theirs)).await);
        }
        assert!(
            !passwords
                .verify("x".into(), Some("$argon2id$garbage".into()))
                .await
        );
    }

    #[tokio::test]
    async fn hashes_run_on_the_fixed_threads_only() {
        let passwords = Passwords::new(2);
        let names: Vec<String> = futures::future::join_all((0..8).map(|_| {
            passwords.run(|_| std::thread::current().name().unwrap_or_default().to_owned())
        }))
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
        assert!(
            names.iter().all(|n| n == "argon2-0" || n == "argon2-1"),
            "{names:?}"
        );
    }
}
