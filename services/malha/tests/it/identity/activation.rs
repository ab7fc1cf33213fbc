//! Activation e-mails end to end: a pending user's first login sends a mail
//! through a real SMTP server (aiosmtpd, started here, storing what it
//! receives in a maildir), the test reads the code from it, activates, and
//! logs in; bad, expired and reused codes, the resend limit, and an SMTP
//! server that is down at first.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic::Code;

use crate::helpers::{TestApp, authed, config, eventually, violated_fields};
use malha_api::identity::*;
use malha_identity::mail::MailSettings;
use malha_kit::config::Secret;

/// A real SMTP server (aiosmtpd's `Mailbox` handler) on `port`, writing each
/// mail it accepts into a maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

/// The Python that `./dev deps` installs aiosmtpd into.
fn aiosmtpd_python() -> PathBuf {
    let python = std::env::var_os("MALHA_AIOSMTPD_PYTHON").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/malha/tools/smtp/bin/python3")
        },
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "{} not found: run ./dev deps (it installs aiosmtpd for the e-mail tests)",
        python.display()
    );
    python
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    async fn start(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let child = Command::new(aiosmtpd_python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        // Owned from here on: dropping it (also on a panic) stops the server.
        let server = Self {
            child,
            maildir,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not listen on port {port}");
    }

    /// Every mail received so far, as raw text.
    fn mails(&self) -> Vec<String> {
        mails_in(&self.maildir.join("new"))
    }

    /// Waits for the `count`-th mail.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..300 {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {count} mail(s), got {}", self.mails().len());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mails_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// The activation code in a mail: the line after the one announcing it.
fn code_in(mail: &str) -> String {
    let mut lines = mail.lines();
    lines
        .find(|line| line.starts_with("Your activation code"))
        .expect("the mail announces a code");
    lines
        .map(str::trim)
        .find(|line| !line.is_empty())
        .expect("a code follows")
        .to_owned()
}

/// The app, sending activation mails to `smtp_port` under `policy`.
async fn spawn_with_smtp(smtp_port: u16, ttl_seconds: u64, resend_seconds: u64) -> TestApp {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    *config.services.get_mut::<MailSettings>() = MailSettings {
        smtp_url: Some(Secret::new(format!("smtp://127.0.0.1:{smtp_port}"))),
        mail_from: "Malha <no-reply@malha.test>".into(),
        activation_code_ttl_seconds: ttl_seconds,
        activation_resend_seconds: resend_seconds,
        ..MailSettings::default()
    };
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    app
}

/// Creates a pending user `username` (password `username password`).
async fn create_pending_user(app: &TestApp, admin: &str, username: &str) -> CreateUserResponse {
    let mut identity = app.identity().await;
    let person = identity
        .create_person(authed(
            CreatePersonRequest {
                name: "Dora Reis".into(),
                email: format!("{username}@clinic.test"),
                kind: PersonKind::Employee as i32,
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .person
        .unwrap();
    identity
        .create_user(authed(
            CreateUserRequest {
                person_id: person.id,
                username: username.into(),
                password: format!("{username} password"),
                roles: vec!["employee".into()],
                request_id: String::new(),
                active: false,
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn login(app: &TestApp, username: &str) -> Result<LoginResponse, tonic::Status> {
    app.identity()
        .await
        .login(LoginRequest {
            username: username.into(),
            password: format!("{username} password"),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn reason(status: &tonic::Status) -> String {
    use prost::Message;
    let details = malha_api::google::rpc::Status::decode(status.details()).unwrap();
    details
        .details
        .iter()
        .find(|any| any.type_url.ends_with("google.rpc.ErrorInfo"))
        .map(|any| {
            malha_api::google::rpc::ErrorInfo::decode(any.value.as_slice())
                .unwrap()
                .reason
        })
        .unwrap_or_default()
}

/// Activation requests published so far, and how many of them the
/// notifier has finished with (sent, in its inbox).
async fn requests_and_sent(app: &TestApp) -> (i64, i64, i64) {
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let counts = sqlx::query_as(
        "SELECT (SELECT count(*) FROM identity.outbox WHERE subject = $1),
                (SELECT count(*) FROM identity.outbox WHERE subject = $1 AND published_at IS NOT NULL),
                (SELECT count(*) FROM identity.inbox WHERE consumer = $2)",
    )
    .bind(malha_identity::mail::SUBJECT_ACTIVATION_REQUESTED)
    .bind(malha_identity::mail::ACTIVATION_MAIL.name)
    .fetch_one(&db)
    .await
    .unwrap();
    db.close().await;
    counts
}

/// Waits until every activation request so far has been mailed: then the
/// mailbox holds all the mail there will be, and a count is final (no
/// fixed sleep guessing how long the notifier takes).
async fn settled(app: &TestApp) -> i64 {
    eventually(
        "the notifier to finish every request",
        Duration::from_secs(30),
        || async {
            let (requests, _, sent) = requests_and_sent(app).await;
            (requests == sent).then_some(requests)
        },
    )
    .await
}

async fn activate(app: &TestApp, code: &str) -> Result<ActivateAccountResponse, tonic::Status> {
    app.identity()
        .await
        .activate_account(ActivateAccountRequest { code: code.into() })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_pending_user_activates_with_the_code_from_its_email_then_logs_in() {
    let port = free_port();
    let smtp = SmtpServer::start(port).await;
    let app = spawn_with_smtp(port, 3600, 60).await;
    let admin = app.admin_token().await;

    let created = create_pending_user(&app, &admin, "dora").await;
    assert!(!created.user.unwrap().active);
    assert!(created.tokens.is_none(), "a pending user has no session");

    let refused = login(&app, "dora").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason(&refused), "ACTIVATION_REQUIRED");
    let mail = smtp.wait_for(1).await.remove(0);
    assert!(
        mail.contains("To: \"Dora Reis\" <dora@clinic.test>")
            || mail.contains("To: Dora Reis <dora@clinic.test>"),
        "{mail}"
    );
    assert!(mail.contains("From: Malha <no-reply@malha.test>"), "{mail}");
    let code = code_in(&mail);

    // Logging in again within the resend interval sends no second mail.
    let again = login(&app, "dora").await.unwrap_err();
    assert_eq!(reason(&again), "ACTIVATION_REQUIRED");
    assert_eq!(settled(&app).await, 1, "the second login requested nothing");
    assert_eq!(smtp.mails().len(), 1, "re-sending is rate-limited");

    let unknown = activate(&app, "not-a-code").await.unwrap_err();
    assert_eq!(violated_fields(&unknown), ["code"]);
    let empty = activate(&app, "").await.unwrap_err();
    assert_eq!(violated_fields(&empty), ["code"]);

    let activated = activate(&app, &code).await.unwrap().user.unwrap();
    assert!(activated.active);
    assert_eq!(activated.username, "dora");
    let tokens = login(&app, "dora").await.unwrap().tokens.unwrap();
    assert!(!tokens.access_token.is_empty());

    let reused = activate(&app, &code).await.unwrap_err();
    assert_eq!(violated_fields(&reused), ["code"], "a code works once");
    // An active user's logins send nothing.
    assert_eq!(settled(&app).await, 1);
    assert_eq!(smtp.mails().len(), 1);
}

#[tokio::test]
async fn an_expired_code_is_refused_and_a_later_login_sends_a_fresh_one() {
    let port = free_port();
    let smtp = SmtpServer::start(port).await;
    // Codes expire at once; another mail may be sent at once.
    let app = spawn_with_smtp(port, 0, 0).await;
    let admin = app.admin_token().await;
    create_pending_user(&app, &admin, "edu").await;

    login(&app, "edu").await.unwrap_err();
    let first = code_in(&smtp.wait_for(1).await[0]);
    let expired = activate(&app, &first).await.unwrap_err();
    assert_eq!(violated_fields(&expired), ["code"]);

    login(&app, "edu").await.unwrap_err();
    let mails = smtp.wait_for(2).await;
    assert_ne!(
        code_in(&mails[0]),
        code_in(&mails[1]),
        "each mail mints its own code"
    );
    let still_pending = login(&app, "edu").await.unwrap_err();
    assert_eq!(still_pending.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn the_notifier_retries_until_the_smtp_server_is_up_and_sends_once() {
    let port = free_port();
    let app = spawn_with_smtp(port, 3600, 60).await;
    let admin = app.admin_token().await;
    create_pending_user(&app, &admin, "fabi").await;

    // Nothing listens on the SMTP port yet.
    let refused = login(&app, "fabi").await.unwrap_err();
    assert_eq!(reason(&refused), "ACTIVATION_REQUIRED");
    // The request reached the bus while nothing listens: the notifier is
    // delivered it and cannot send it yet.
    eventually(
        "the request on the bus",
        Duration::from_secs(30),
        || async {
            let (requests, published, sent) = requests_and_sent(&app).await;
            (requests == 1 && published == 1 && sent == 0).then_some(())
        },
    )
    .await;

    let smtp = SmtpServer::start(port).await;
    let mail = smtp.wait_for(1).await.remove(0);
    activate(&app, &code_in(&mail)).await.unwrap();
    login(&app, "fabi").await.unwrap();
    assert_eq!(settled(&app).await, 1);
    assert_eq!(smtp.mails().len(), 1, "the event was sent once");
}
