//! `malha seed`: demo data, loaded through the public gRPC API (the same
//! path any client takes), idempotent so `malha up` can run it every time.

use tonic::Code;

use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::identity::*;

/// The demo administrator's login, printed by `malha up`.
pub const DEMO_ADMIN_USERNAME: &str = "admin";
/// The demo administrator's password. Change it outside a laptop.
pub const DEMO_ADMIN_PASSWORD: &str = "malha-admin";
/// A registered demo customer's CPF.
pub const DEMO_CUSTOMER_CPF: &str = "529.982.247-25";

/// Arguments of `seed`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Where Malha's gRPC port is.
    #[arg(long, env = "MALHA_URL", default_value = "http://127.0.0.1:50051")]
    pub url: String,
}

pub(super) async fn run(args: SeedArgs) -> anyhow::Result<()> {
    demo(&args.url).await?;
    println!("demo data loaded");
    Ok(())
}

/// Loads the demo data into the Malha at `url`.
pub async fn demo(url: &str) -> anyhow::Result<()> {
    let mut identity = IdentityServiceClient::connect(url.to_owned()).await?;
    match identity
        .bootstrap_admin(BootstrapAdminRequest {
            name: "Demo Administrator".into(),
            email: "admin@malha.local".into(),
            username: DEMO_ADMIN_USERNAME.into(),
            password: DEMO_ADMIN_PASSWORD.into(),
        })
        .await
    {
        Ok(_) => tracing::info!("created the demo administrator"),
        Err(status) if status.code() == Code::FailedPrecondition => {}
        Err(status) => return Err(status.into()),
    }
    let token = identity
        .login(LoginRequest {
            username: DEMO_ADMIN_USERNAME.into(),
            password: DEMO_ADMIN_PASSWORD.into(),
        })
        .await?
        .into_inner()
        .tokens
        .map(|t| t.access_token)
        .unwrap_or_default();
    let bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {token}").parse()?;
    fn authed<T>(
        message: T,
        bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        request
    }

    // Fixed request ids make every step idempotent.
    let person = identity
        .create_person(authed(
            CreatePersonRequest {
                name: "Ana Souza".into(),
                email: "ana@malha.local".into(),
                kind: PersonKind::Employee as i32,
                request_id: "0192f000-0000-7000-8000-000000000001".into(),
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .person
        .unwrap_or_default();
    identity
        .create_user(authed(
            CreateUserRequest {
                person_id: person.id,
                username: "ana".into(),
                password: "malha-employee".into(),
                roles: vec!["employee".into()],
                request_id: "0192f000-0000-7000-8000-000000000002".into(),
            },
            &bearer,
        ))
        .await?;
    match identity
        .register_customer(RegisterCustomerRequest {
            cpf: DEMO_CUSTOMER_CPF.into(),
            name: "Carlos Lima".into(),
            email: "carlos@malha.local".into(),
            request_id: "0192f000-0000-7000-8000-000000000003".into(),
        })
        .await
    {
        Ok(_) => {}
        Err(status) if status.code() == Code::AlreadyExists => {}
        Err(status) => return Err(status.into()),
    }
    Ok(())
}
