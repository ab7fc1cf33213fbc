//! `malha token`: logs in and prints the access token alone, for
//! `-H "authorization: Bearer $(malha token)"`.

use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::{CreateAnonymousCustomerRequest, IdentifyCustomerRequest, LoginRequest};

use super::seed::{DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME};

/// Arguments of `token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Where Malha's gRPC port is.
    #[arg(long, env = "MALHA_URL", default_value = "http://127.0.0.1:50051")]
    pub url: String,
    /// Username (default: the demo administrator).
    #[arg(long, default_value = DEMO_ADMIN_USERNAME)]
    pub username: String,
    /// Password (default: the demo administrator's).
    #[arg(long, env = "MALHA_PASSWORD", default_value = DEMO_ADMIN_PASSWORD, hide_default_value = true)]
    pub password: String,
    /// A token for a new anonymous customer instead.
    #[arg(long, conflicts_with = "cpf")]
    pub anonymous: bool,
    /// A token for the registered customer with this CPF instead.
    #[arg(long)]
    pub cpf: Option<String>,
}

pub(super) async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let mut client = IdentityServiceClient::connect(args.url.clone()).await?;
    let tokens = if args.anonymous {
        client
            .create_anonymous_customer(CreateAnonymousCustomerRequest::default())
            .await?
            .into_inner()
            .tokens
    } else if let Some(cpf) = args.cpf {
        client
            .identify_customer(IdentifyCustomerRequest { cpf })
            .await?
            .into_inner()
            .tokens
    } else {
        client
            .login(LoginRequest {
                username: args.username,
                password: args.password,
            })
            .await?
            .into_inner()
            .tokens
    };
    let tokens = tokens.ok_or_else(|| anyhow::anyhow!("identity returned no token"))?;
    println!("{}", tokens.access_token);
    Ok(())
}
