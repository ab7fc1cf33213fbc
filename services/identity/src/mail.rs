//! The activation e-mail notifier: consumes `identity.activation.requested`
//! once (the kit's inbox), mints the one-time code as it sends (only its
//! hash is stored, in the same transaction as the inbox row), and hands the
//! mail to SMTP (`lettre`) or, without `MALHA_SMTP_URL`, writes it as an
//! `.eml` file. A send that fails rolls the transaction back and the consumer
//! retries with backoff, so an SMTP server that is down at first still gets
//! the mail once it is up.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use futures::future::BoxFuture;
use lettre::message::{Mailbox, Message};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ActivationPolicy;
use crate::store;
use malha_api::identity::ActivationRequested;
use malha_kit::events::{ConsumerSpec, Envelope, Handler, open};
use malha_kit::{ServiceError, ServiceResult};

/// The subject a pending user's login attempt publishes.
pub const SUBJECT_ACTIVATION_REQUESTED: &str = "identity.activation.requested";

/// The durable consumer that sends activation e-mails.
pub const ACTIVATION_MAIL: ConsumerSpec = ConsumerSpec {
    name: "identity-activation-mail",
    source: "identity",
    subject: SUBJECT_ACTIVATION_REQUESTED,
    // An unreachable SMTP server is `UNAVAILABLE`, retried without limit;
    // this bounds only mails that cannot be built (a malformed address).
    max_deliver: 8,
};

/// Identity's mail settings (`malha serve --help` lists them).
#[derive(Debug, Clone, clap::Args)]
pub struct MailSettings {
    /// SMTP server for activation e-mails, e.g. `smtp://localhost:1025`
    /// (plain), `smtp://host:587?tls=required` (STARTTLS) or `smtps://host`;
    /// user and password may be in the URL. Without it each mail is written
    /// as an `.eml` file under `--mail-dir`.
    #[arg(long, env = "MALHA_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<malha_kit::config::Secret>,

    /// The sender of activation e-mails.
    #[arg(long, env = "MALHA_MAIL_FROM", default_value = DEFAULT_FROM)]
    pub mail_from: String,

    /// Where mails go as `.eml` files when no SMTP server is configured.
    #[arg(long, env = "MALHA_MAIL_DIR", default_value = DEFAULT_DIR)]
    pub mail_dir: PathBuf,

    /// Seconds an activation code works after it was sent.
    #[arg(
        long,
        env = "MALHA_ACTIVATION_CODE_TTL_SECONDS",
        default_value_t = 86_400
    )]
    pub activation_code_ttl_seconds: u64,

    /// Seconds before a pending user's login sends another activation e-mail.
    #[arg(long, env = "MALHA_ACTIVATION_RESEND_SECONDS", default_value_t = 60)]
    pub activation_resend_seconds: u64,
}

const DEFAULT_FROM: &str = "Malha <no-reply@malha.local>";
const DEFAULT_DIR: &str = ".malha/mail";

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            mail_from: DEFAULT_FROM.into(),
            mail_dir: DEFAULT_DIR.into(),
            activation_code_ttl_seconds: 86_400,
            activation_resend_seconds: 60,
        }
    }
}

impl MailSettings {
    /// The activation rules these settings set.
    pub fn policy(&self) -> ActivationPolicy {
        ActivationPolicy {
            code_ttl: Duration::from_secs(self.activation_code_ttl_seconds),
            resend_after: Duration::from_secs(self.activation_resend_seconds),
        }
    }
}

/// Where mails go.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory (local runs without an SMTP server).
    Files(PathBuf),
}

impl Mailer {
    /// The mailer `settings` name.
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Self> {
        match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| anyhow::anyhow!("MALHA_SMTP_URL is not a usable SMTP URL: {e}"))?
                    .timeout(Some(Duration::from_secs(10)))
                    .build();
                Ok(Self::Smtp(transport))
            }
            None => Ok(Self::Files(settings.mail_dir.clone())),
        }
    }

    async fn send(&self, message: Message) -> Result<(), ServiceError> {
        match self {
            Self::Smtp(transport) => transport
                .send(message)
                .await
                .map(drop)
                // Not the event's fault: retried with backoff until it is up.
                .map_err(|e| ServiceError::Unavailable(format!("smtp: {e}"))),
            Self::Files(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
                let id = AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map_err(|e| anyhow::anyhow!("writing a mail under {}: {e}", dir.display()))?;
                tracing::info!(file = %dir.join(format!("{id}.eml")).display(), "activation e-mail written");
                Ok(())
            }
        }
    }
}

/// A fresh one-time activation code (128 random bits) and its hash.
pub fn mint_code() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let code = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_code(&code);
    (code, hash)
}

/// What is stored of a code: a fast hash is enough for 128 random bits.
pub fn hash_code(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

/// Sends the activation e-mail of one `ActivationRequested`.
pub struct SendActivationMail {
    pub mailer: Mailer,
    pub from: Mailbox,
    pub policy: ActivationPolicy,
}

impl Handler for SendActivationMail {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        envelope: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let event: ActivationRequested = open(envelope)?;
            self.send_once(tx, &event).await
        })
    }
}

impl SendActivationMail {
    async fn send_once(
        &self,
        tx: &mut PgConnection,
        event: &ActivationRequested,
    ) -> ServiceResult<()> {
        let user_id = Uuid::parse_str(&event.user_id).map_err(anyhow::Error::from)?;
        let (code, hash) = mint_code();
        let now = Utc::now();
        store::activation::insert_code(tx, &hash, user_id, self.policy.expiry(now)).await?;
        let to: Mailbox = format!("{} <{}>", event.name, event.email)
            .parse()
            .or_else(|_| event.email.parse())
            .map_err(|e| anyhow::anyhow!("the user's e-mail address is not usable: {e}"))?;
        let hours = self.policy.code_ttl.as_secs().div_ceil(3600);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("Activate your Malha account")
            .body(format!(
                "Hello {name},\n\n\
                 an account with the username {username} was created for you.\n\
                 Your activation code (it works once, for {hours} hour(s)):\n\n\
                 {code}\n\n\
                 Activate with it, then log in with the password you were given:\n\
                 POST /v1/identity/activate {{\"code\": \"{code}\"}}\n\
                 (gRPC: malha.identity.v1.IdentityService/ActivateAccount)\n",
                name = event.name,
                username = event.username,
            ))
            .map_err(|e| anyhow::anyhow!("building the activation e-mail: {e}"))?;
        self.mailer.send(message).await?;
        tracing::info!(user = %user_id, "activation e-mail sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_and_only_their_hash_is_kept() {
        let (code, hash) = mint_code();
        let (other, _) = mint_code();
        assert_ne!(code, other);
        assert_eq!(code.len(), 22);
        assert_eq!(hash, hash_code(&code));
        assert_ne!(hash, code.as_bytes());
    }

    #[test]
    fn an_unusable_smtp_url_is_refused_with_the_setting_named() {
        let settings = MailSettings {
            smtp_url: Some(malha_kit::config::Secret::new("ftp://nowhere")),
            ..MailSettings::default()
        };
        let error = Mailer::from_settings(&settings).err().unwrap().to_string();
        assert!(error.contains("MALHA_SMTP_URL"), "{error}");
    }
}
