//! `malha up --split`: the local picture of the cluster. Every target runs as
//! its own `malha serve --target <t>` process (several with `--replicas
//! orders=2`), each with its own ports, its own service account and client
//! credentials, and the URLs of the others, as the chart wires them; one
//! private PostgreSQL and NATS behind them; the JSON edge in front routing
//! each call, JSON or native gRPC, to the processes of its service.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{
    BootstrapAdminRequest, CreateServiceAccountRequest, IssueServiceTokenRequest,
};
use malha_kit::config::Secret;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::Code;

use super::seed::{self, DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME};
use super::up::wait_until_serving;
use crate::targets::{self, Target};

/// How long a process may take from start to SERVING (it migrates first).
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a process may take to drain after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `--replicas orders=2,identity=1`: processes per target (default 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replicas(BTreeMap<String, usize>);

impl Replicas {
    fn of(&self, target: &str) -> usize {
        self.0.get(target).copied().unwrap_or(1)
    }
}

impl std::str::FromStr for Replicas {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, count) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected <target>=<count>, e.g. orders=2"))?;
            let name = name.trim();
            if !targets::TARGETS.iter().any(|t| t.name == name) {
                let known: Vec<_> = targets::TARGETS.iter().map(|t| t.name).collect();
                return Err(format!(
                    "{name:?} is not a target (targets: {})",
                    known.join(", ")
                ));
            }
            let count: usize = count
                .trim()
                .parse()
                .ok()
                .filter(|c| (1..=8).contains(c))
                .ok_or_else(|| format!("{item:?}: the count must be 1 to 8"))?;
            out.insert(name.to_owned(), count);
        }
        Ok(Self(out))
    }
}

/// What every process shares: where the data is, the connections, the
/// development secrets `up` chose.
pub(super) struct Shared<'a> {
    pub(super) root: &'a Path,
    pub(super) database_url: &'a Secret,
    /// A transaction-mode PgBouncer the processes query through (their
    /// listeners and migrations still go to `database_url`), as with the
    /// chart's `pgbouncer.enabled`.
    pub(super) pgbouncer: Option<&'a malha_local::PgBouncer>,
    pub(super) nats_url: &'a str,
    pub(super) key_encryption_key: &'a Secret,
    /// Environment for one target only (e.g. payments' webhook secret).
    pub(super) per_target: BTreeMap<&'static str, Vec<(&'static str, String)>>,
}

/// One `malha serve --target <t>` process.
pub(super) struct Process {
    pub(super) target: &'static str,
    pub(super) replica: usize,
    pub(super) grpc: SocketAddr,
    pub(super) admin: SocketAddr,
    env: Vec<(String, String)>,
    child: Child,
    exited: bool,
}

/// How a process is stopped before it is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// SIGTERM: it drains, as in a rolling restart.
    Drain,
    /// SIGKILL: it dies mid-write, as in a crash or an OOM kill.
    Crash,
}

impl Process {
    /// `orders-2`: the target and the replica's number.
    pub(super) fn label(&self) -> String {
        format!("{}-{}", self.target, self.replica)
    }

    fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Its process id, while it runs.
    pub(super) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGTERM (the drain Kubernetes starts), then SIGKILL after the timeout.
    async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "{} did not stop within {STOP_TIMEOUT:?}: killing it",
                self.label()
            );
            let _ = self.child.kill().await;
        }
    }
}

/// The running processes, in start order.
pub(super) struct Fleet {
    pub(super) processes: Vec<Process>,
}

impl Fleet {
    /// The gRPC URLs of `target`'s processes, comma-separated (the kit's
    /// clients spread calls over a list).
    pub(super) fn urls(&self, target: &str) -> String {
        let urls: Vec<_> = self
            .processes
            .iter()
            .filter(|p| p.target == target)
            .map(Process::url)
            .collect();
        urls.join(",")
    }

    /// The edge's routes: each service package to its target's processes.
    pub(super) fn upstreams(&self) -> malha_edge::Upstreams {
        targets::TARGETS.iter().fold(
            malha_edge::Upstreams::single(self.urls("identity")),
            |upstreams, t| upstreams.route(format!("malha.{}.", t.name), self.urls(t.name)),
        )
    }

    /// Stops process `index` (`how`), starts it again with the same ports
    /// and settings, and waits until it is SERVING.
    pub(super) async fn restart(&mut self, index: usize, how: Stop) -> anyhow::Result<()> {
        let p = &mut self.processes[index];
        match how {
            Stop::Drain => p.stop().await,
            Stop::Crash => {
                let _ = p.child.kill().await;
            }
        }
        *p = spawn(p.target, p.replica, p.grpc, p.admin, &p.env)?;
        wait_all_serving(std::slice::from_mut(p)).await
    }

    /// Stops every process at once, as a namespace being deleted does: each
    /// drains (SIGTERM) and is killed if it outlasts the timeout.
    pub(super) async fn stop(mut self) {
        futures::future::join_all(self.processes.iter_mut().map(Process::stop)).await;
    }

    /// Resolves when a process exits by itself (it crashed or was killed),
    /// once per process: `up` reports it and keeps the others running, as a
    /// cluster does not stop the whole system for one pod.
    pub(super) async fn exited(&mut self) -> String {
        loop {
            for p in self.processes.iter_mut().filter(|p| !p.exited) {
                if let Ok(Some(status)) = p.child.try_wait() {
                    p.exited = true;
                    return format!("{} exited ({status})", p.label());
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Starts every target as its own processes: identity first (the others
/// need its keys and their service accounts), then the rest together.
/// Server connections per service alias of [`pgbouncer`]'s pooler.
pub(super) const PGBOUNCER_POOL_SIZE: u32 = 4;

/// A transaction-mode PgBouncer in `root/pgbouncer` in front of
/// `database_url`, one alias per target's schema (`malha up --split
/// --pgbouncer`, the PgBouncer test).
pub(super) async fn pgbouncer(
    root: &Path,
    database_url: &Secret,
) -> anyhow::Result<malha_local::PgBouncer> {
    use std::str::FromStr as _;
    let url = sqlx::postgres::PgConnectOptions::from_str(database_url.expose())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let server = malha_local::PgServer {
        host: url.get_host().to_owned(),
        port: url.get_port(),
        dbname: url.get_database().unwrap_or("postgres").to_owned(),
        user: url.get_username().to_owned(),
    };
    let options = malha_local::PgBouncerOptions {
        aliases: targets::TARGETS
            .iter()
            .map(|t| t.schema.name.to_owned())
            .collect(),
        pool_size: PGBOUNCER_POOL_SIZE,
        max_client_conn: 1000,
    };
    let port = malha_local::free_port();
    malha_local::PgBouncer::start(&root.join("pgbouncer"), port, &server, &options).await
}

pub(super) async fn start(shared: &Shared<'_>, replicas: &Replicas) -> anyhow::Result<Fleet> {
    let all = targets::resolve("all")?;
    let mut plan: Vec<(&'static Target, usize, SocketAddr, SocketAddr)> = Vec::new();
    for target in &all {
        for replica in 1..=replicas.of(target.name) {
            plan.push((target, replica, loopback(), loopback()));
        }
    }
    let urls = |name: &str| {
        plan.iter()
            .filter(|(t, ..)| t.name == name)
            .map(|(_, _, grpc, _)| format!("http://{grpc}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let callee_urls: Vec<(String, String)> = all
        .iter()
        .map(|t| {
            (
                format!("MALHA_{}_URL", t.name.to_uppercase().replace('-', "_")),
                urls(t.name),
            )
        })
        .collect();

    let mut fleet = Fleet {
        processes: Vec::new(),
    };
    let start_one = |target: &'static Target,
                     replica,
                     grpc,
                     admin,
                     credentials: Option<&(String, Secret)>|
     -> anyhow::Result<Process> {
        let database = match shared.pgbouncer {
            Some(bouncer) => bouncer.url(target.schema.name),
            None => shared.database_url.expose().into(),
        };
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database),
            (
                "DATABASE_DIRECT_URL".into(),
                shared.database_url.expose().into(),
            ),
            ("MALHA_NATS_URL".into(), shared.nats_url.into()),
            ("MALHA_GRPC_ADDR".into(), format!("{grpc}")),
            ("MALHA_ADMIN_ADDR".into(), format!("{admin}")),
            ("OTEL_SERVICE_NAME".into(), target.name.into()),
        ];
        env.extend(callee_urls.iter().cloned());
        if target.name == "identity" {
            env.push((
                "MALHA_KEY_ENCRYPTION_KEY".into(),
                shared.key_encryption_key.expose().into(),
            ));
        }
        if let Some((id, secret)) = credentials {
            env.push(("MALHA_CLIENT_ID".into(), id.clone()));
            env.push(("MALHA_CLIENT_SECRET".into(), secret.expose().into()));
        }
        for (key, value) in shared.per_target.get(target.name).into_iter().flatten() {
            env.push(((*key).into(), value.clone()));
        }
        spawn(target.name, replica, grpc, admin, &env)
    };

    // Identity: its first replica migrates alone, then the others join.
    let (identity, rest): (Vec<_>, Vec<_>) = plan.iter().partition(|(t, ..)| t.name == "identity");
    for (i, (target, replica, grpc, admin)) in identity.iter().enumerate() {
        fleet
            .processes
            .push(start_one(target, *replica, *grpc, *admin, None)?);
        if i == 0 || i + 1 == identity.len() {
            wait_all_serving(&mut fleet.processes).await?;
        }
    }
    let identity_url = fleet.urls("identity");
    let credentials = service_accounts(&identity_url, shared.root, &all).await?;

    // The rest: the first replica of each target (each migrates its own
    // schema), then the other replicas.
    for first in [true, false] {
        for (target, replica, grpc, admin) in rest.iter().filter(|(_, r, ..)| (*r == 1) == first) {
            let creds = credentials.get(target.name);
            fleet
                .processes
                .push(start_one(target, *replica, *grpc, *admin, creds)?);
        }
        wait_all_serving(&mut fleet.processes).await?;
    }
    Ok(fleet)
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], malha_local::free_port()))
}

fn spawn(
    target: &'static str,
    replica: usize,
    grpc: SocketAddr,
    admin: SocketAddr,
    env: &[(String, String)],
) -> anyhow::Result<Process> {
    let exe = std::env::current_exe().context("finding the malha binary")?;
    // Dies with `up` however `up` ends (setpriv is util-linux, on every Debian).
    let mut cmd = match which("setpriv") {
        Some(setpriv) => {
            let mut cmd = Command::new(setpriv);
            cmd.args(["--pdeathsig", "TERM", "--"]).arg(&exe);
            cmd
        }
        None => Command::new(&exe),
    };
    cmd.args(["serve", "--target", target])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("MALHA_TARGET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {target}-{replica}"))?;
    let label = format!("{target}-{replica}");
    if let Some(out) = child.stdout.take() {
        prefix_lines(label.clone(), out);
    }
    if let Some(err) = child.stderr.take() {
        prefix_lines(label, err);
    }
    Ok(Process {
        target,
        replica,
        grpc,
        admin,
        env: env.to_vec(),
        child,
        exited: false,
    })
}

/// Copies a child's output to ours, each line prefixed with its process.
fn prefix_lines(label: String, from: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[{label}] {line}");
        }
    });
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Waits until every process is SERVING; a process that exits first is an
/// error naming it.
async fn wait_all_serving(processes: &mut [Process]) -> anyhow::Result<()> {
    let started = Instant::now();
    for p in processes.iter_mut() {
        loop {
            if let Some(status) = p.child.try_wait()? {
                anyhow::bail!(
                    "{} exited ({status}) before it was SERVING; see its log above",
                    p.label()
                );
            }
            if wait_until_serving(&p.url(), Duration::from_millis(300))
                .await
                .is_ok()
            {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < START_TIMEOUT,
                "{} was not SERVING within {START_TIMEOUT:?}; see its log above",
                p.label()
            );
        }
    }
    Ok(())
}

/// Each target but identity gets a service account of its own (role
/// `service`), as in the cluster. Its credentials are kept under
/// `<data dir>/split/` (0600) and reused while identity still accepts them.
async fn service_accounts(
    identity_url: &str,
    root: &Path,
    all: &[&'static Target],
) -> anyhow::Result<BTreeMap<&'static str, (String, Secret)>> {
    let channel = malha_kit::clients::channel(identity_url)?;
    let mut identity = IdentityServiceClient::new(channel);
    let dir = root.join("split");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bearer = None;
    let mut out = BTreeMap::new();
    for target in all.iter().filter(|t| t.name != "identity") {
        let file = dir.join(format!("{}.credentials", target.name));
        if let Some((id, secret)) = read_credentials(&file)
            && identity
                .issue_service_token(IssueServiceTokenRequest {
                    client_id: id.clone(),
                    client_secret: secret.expose().into(),
                })
                .await
                .is_ok()
        {
            out.insert(target.name, (id, secret));
            continue;
        }
        if bearer.is_none() {
            bearer = Some(admin_bearer(&mut identity).await?);
        }
        let mut request = tonic::Request::new(CreateServiceAccountRequest {
            name: format!("malha up --split: {}", target.name),
            roles: vec!["service".into()],
            request_id: String::new(),
        });
        request
            .metadata_mut()
            .insert("authorization", bearer.clone().expect("set above"));
        let created = identity
            .create_service_account(request)
            .await
            .with_context(|| format!("creating {}'s service account", target.name))?
            .into_inner();
        write_credentials(&file, &created.client_id, &created.client_secret)?;
        out.insert(
            target.name,
            (created.client_id, Secret::new(created.client_secret)),
        );
    }
    Ok(out)
}

/// The demo administrator's bearer (created if identity has no administrator yet).
async fn admin_bearer(
    identity: &mut IdentityServiceClient<tonic::transport::Channel>,
) -> anyhow::Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
    match identity
        .bootstrap_admin(BootstrapAdminRequest {
            name: "Demo Administrator".into(),
            email: "admin@malha.local".into(),
            username: DEMO_ADMIN_USERNAME.into(),
            password: DEMO_ADMIN_PASSWORD.into(),
        })
        .await
    {
        Ok(_) => {}
        Err(status) if status.code() == Code::FailedPrecondition => {}
        Err(status) => return Err(status.into()),
    }
    seed::admin_bearer(identity).await.context(
        "malha up --split creates each target's service account as the demo administrator \
         (admin / the demo password); this database has another administrator",
    )
}

fn read_credentials(file: &Path) -> Option<(String, Secret)> {
    let text = std::fs::read_to_string(file).ok()?;
    let (id, secret) = text.trim().split_once('\n')?;
    Some((id.trim().to_owned(), Secret::new(secret.trim())))
}

fn write_credentials(file: &Path, id: &str, secret: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("writing {}", file.display()))?;
    writeln!(f, "{id}\n{secret}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_parse_known_targets_with_bounded_counts() {
        let r: Replicas = "orders=2, identity=1".parse().unwrap();
        assert_eq!(r.of("orders"), 2);
        assert_eq!(r.of("identity"), 1);
        assert_eq!(r.of("payments"), 1, "unnamed targets run one process");
        assert!(
            "nope=2"
                .parse::<Replicas>()
                .unwrap_err()
                .contains("not a target")
        );
        assert!(
            "orders=0"
                .parse::<Replicas>()
                .unwrap_err()
                .contains("1 to 8")
        );
        assert!(
            "orders"
                .parse::<Replicas>()
                .unwrap_err()
                .contains("<target>=<count>")
        );
        assert_eq!("".parse::<Replicas>().unwrap(), Replicas::default());
    }
}
