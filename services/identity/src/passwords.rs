//! Password hashing with argon2id (OWASP parameters: 19 MiB, t=2, p=1) on a
//! fixed set of threads of its own, never on the async runtime: a login
//! storm queues here instead of starving every other RPC.
//!
//! Fixed threads, not tokio's blocking pool: each hash allocates 19 MiB, and
//! the allocator keeps a freed block in the arena of the thread that used
//! it. Spread over the blocking pool's many threads, every new thread that
//! hashed kept another 19 MiB (the soak saw identity's RSS step up by exactly
//! that); on `concurrency` threads the memory is bounded by them.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

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
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `work` on a hashing thread; `None` if none is left.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }

    /// The PHC string of `password`, with a fresh salt.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await
        .unwrap_or_else(|| Err(anyhow::anyhow!("no password hashing thread is running")))
    }

    /// True when `password` matches `hash`. With no hash (unknown user) it
    /// still spends the same time on a dummy hash, so timing tells nothing.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        self.run(move || {
            let stored = hash.as_deref().unwrap_or_else(|| dummy_hash());
            let Ok(parsed) = PasswordHash::new(stored) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
                && hash.is_some()
        })
        .await
        .unwrap_or(false)
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"malha dummy password for unknown users")
            .map(|h| h.to_string())
            .unwrap_or_default()
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
    async fn hashes_run_on_the_fixed_threads_only() {
        let passwords = Passwords::new(2);
        let names: Vec<String> = futures::future::join_all((0..8).map(|_| {
            passwords.run(|| std::thread::current().name().unwrap_or_default().to_owned())
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
