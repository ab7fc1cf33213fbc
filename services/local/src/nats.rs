//! A private `nats-server` with JetStream, for tests and `malha up`: its own
//! store directory, loopback only, stopped when dropped. Tests can stop and
//! start it again on the same port and store (fault tests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How to install the server where it is missing.
pub const NATS_INSTALL_HINT: &str = "install it with: sudo apt-get install -y nats-server \
     (or: go install github.com/nats-io/nats-server/v2@v2.10.29)";

/// A running (or stopped) private NATS server.
pub struct NatsServer {
    binary: PathBuf,
    store: PathBuf,
    port: u16,
    child: Option<Child>,
    _temp: Option<tempfile::TempDir>,
}

/// Finds `nats-server` on PATH, in /usr/sbin, or in ~/go/bin.
pub fn find_nats_server() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nats-server"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push("/usr/sbin/nats-server".into());
    candidates.push("/usr/bin/nats-server".into());
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join("go/bin/nats-server"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| {
            format!("nats-server not found on PATH, in /usr/sbin or ~/go/bin; {NATS_INSTALL_HINT}")
        })
}

impl NatsServer {
    /// A throwaway server: temp store, free port.
    pub async fn start_ephemeral() -> anyhow::Result<Self> {
        let temp = tempfile::tempdir()?;
        let mut server = Self {
            binary: find_nats_server()?,
            store: temp.path().join("jetstream"),
            port: crate::free_port(),
            child: None,
            _temp: Some(temp),
        };
        server.start().await?;
        Ok(server)
    }

    /// A server keeping its streams in `store` (reused by the next start).
    pub async fn start_persistent(store: &Path, port: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(store)?;
        let mut server = Self {
            binary: find_nats_server()?,
            store: store.to_path_buf(),
            port,
            child: None,
            _temp: None,
        };
        server.start().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process (again) and waits until it accepts connections.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let child = Command::new(&self.binary)
            .args(["--jetstream", "--addr", "127.0.0.1"])
            .args(["--port", &self.port.to_string()])
            .arg("--store_dir")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!(
                    "nats-server exited with {status} (port {} busy?)",
                    self.port
                );
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!(
                    "nats-server did not listen on port {} within 10 s",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops the process (its store stays); `start` brings it back.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
