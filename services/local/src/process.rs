//! Running PostgreSQL programs: as an unprivileged user when we are root, and
//! under a watchdog that stops the server when this process goes away.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use anyhow::{Context, bail};

/// Who runs the server when this process is root (PostgreSQL refuses to run as root).
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub(crate) user: String,
    uid: u32,
    gid: u32,
    switcher: Switcher,
}

#[derive(Debug, Clone)]
enum Switcher {
    Runuser(PathBuf),
    Setpriv(PathBuf),
}

impl RunAs {
    /// `None` unless the effective uid is 0; then the `postgres` user if it
    /// exists, otherwise `nobody`.
    pub(crate) fn detect() -> anyhow::Result<Option<RunAs>> {
        if effective_uid()? != 0 {
            return Ok(None);
        }
        let user = ["postgres", "nobody"]
            .into_iter()
            .find(|user| id(&["-u", user]).is_ok())
            .context("running as root, but neither user `postgres` nor `nobody` exists to run PostgreSQL as")?;
        let switcher = if let Some(path) = find_program("runuser") {
            Switcher::Runuser(path)
        } else if let Some(path) = find_program("setpriv") {
            Switcher::Setpriv(path)
        } else {
            bail!(
                "running as root, but neither `runuser` nor `setpriv` is available to drop to user `{user}`"
            );
        };
        Ok(Some(RunAs {
            user: user.to_owned(),
            uid: id(&["-u", user])?,
            gid: id(&["-g", user])?,
            switcher,
        }))
    }

    /// Gives `path` and everything below it to the server's user.
    pub(crate) fn chown(&self, path: &Path) -> anyhow::Result<()> {
        let mut cmd = Command::new("chown");
        cmd.arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path);
        run_sync(cmd, "chown")?;
        Ok(())
    }
}

/// A command for `program`, switched to `run_as` when given, started in `/`
/// (root's working directory may be unreadable for the server's user).
pub(crate) fn command(run_as: Option<&RunAs>, program: &Path) -> Command {
    let mut cmd = match run_as.map(|r| (r, &r.switcher)) {
        None => Command::new(program),
        Some((r, Switcher::Runuser(runuser))) => {
            let mut cmd = Command::new(runuser);
            cmd.args(["-u", &r.user, "--"]).arg(program);
            cmd
        }
        Some((r, Switcher::Setpriv(setpriv))) => {
            let mut cmd = Command::new(setpriv);
            cmd.arg(format!("--reuid={}", r.uid))
                .arg(format!("--regid={}", r.gid))
                .args(["--clear-groups", "--"])
                .arg(program);
            cmd
        }
    };
    cmd.current_dir("/").env("LC_ALL", "C").stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to completion on the async runtime; a non-zero exit is an error
/// carrying the program's output.
pub(crate) async fn run(cmd: Command, what: &str) -> anyhow::Result<Output> {
    let output = tokio::process::Command::from(cmd)
        .output()
        .await
        .with_context(|| format!("could not run {what}"))?;
    check(output, what)
}

/// Like [`run`], blocking; for `Drop` and other synchronous places.
pub(crate) fn run_sync(mut cmd: Command, what: &str) -> anyhow::Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("could not run {what}"))?;
    check(output, what)
}

fn check(output: Output, what: &str) -> anyhow::Result<Output> {
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    bail!(
        "{what} failed ({}): {}",
        output.status,
        format!("{} {}", stderr.trim(), stdout.trim()).trim()
    )
}

/// A helper process that waits for this process to go away (its stdin pipe
/// closes when we exit, however we exit) and then runs a stop command and
/// optionally deletes a directory. It ignores SIGINT/SIGHUP so that Ctrl-C on
/// the terminal kills us, not it.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

const WATCHDOG_SCRIPT: &str = r#"trap '' INT HUP
read _ignored
"$@" >/dev/null 2>&1
if [ -n "$MALHA_WATCHDOG_REMOVE" ]; then rm -rf -- "$MALHA_WATCHDOG_REMOVE"; fi
"#;

impl Watchdog {
    /// Starts the watchdog; `stop` is the command to run once we are gone.
    pub(crate) fn spawn(stop: &Command, remove: Option<&Path>) -> anyhow::Result<Watchdog> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("malha-watchdog")
            .arg(stop.get_program())
            .args(stop.get_args())
            .current_dir("/")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let remove: OsString = remove.map(|p| p.as_os_str().to_owned()).unwrap_or_default();
        cmd.env("MALHA_WATCHDOG_REMOVE", remove);
        let child = cmd
            .spawn()
            .context("could not start the watchdog `sh` process")?;
        Ok(Watchdog { child })
    }

    /// Lets the watchdog run its stop command now and waits for it.
    pub(crate) fn finish(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn effective_uid() -> anyhow::Result<u32> {
    // /proc/self belongs to the process's effective uid; `id -u` elsewhere.
    match std::fs::metadata("/proc/self") {
        Ok(meta) => Ok(meta.uid()),
        Err(_) => id(&["-u"]),
    }
}

fn id(args: &[&str]) -> anyhow::Result<u32> {
    let mut cmd = Command::new("id");
    cmd.args(args);
    let output = run_sync(cmd, "id")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("unexpected output from `id {}`: {text:?}", args.join(" ")))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
