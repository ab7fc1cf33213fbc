//! Every care RPC through a real server and client, with pharmacy and
//! identity answering over real gRPC: creating requests (items checked
//! against pharmacy, the requester described by identity, idempotency,
//! every bad field named, peers down), reading and listing them, moving them
//! through the workflow with its history, and the live watch.

mod moves;
mod requests;
mod watch;

use tonic::transport::Channel;

use crate::helpers::{TestApp, authed};
use malha_api::identity::*;
use malha_api::malha::care::v1::care_service_client::CareServiceClient;
use malha_api::malha::care::v1::*;
use malha_api::malha::pharmacy::v1 as pharmacy;
use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;

pub(crate) type Client = CareServiceClient<Channel>;

pub(crate) async fn client(app: &TestApp) -> Client {
    CareServiceClient::new(app.channel().await)
}

/// The people of a ward and its pharmacy, each with a token.
pub(crate) struct Staff {
    pub(crate) admin: String,
    pub(crate) nurse: String,
    pub(crate) nurse_id: String,
    pub(crate) other_nurse: String,
    pub(crate) pharmacist: String,
    pub(crate) employee: String,
}

impl Staff {
    pub(crate) async fn hire(app: &TestApp) -> Self {
        let admin = app.admin_token().await;
        let (nurse, nurse_id) = user(app, &admin, "bia", "Bia Souza", "nurse").await;
        let (other_nurse, _) = user(app, &admin, "rui", "Rui Lima", "nurse").await;
        let (pharmacist, _) = user(app, &admin, "caio", "Caio Prado", "pharmacist").await;
        let (employee, _) = user(app, &admin, "eva", "Eva Reis", "employee").await;
        Self {
            admin,
            nurse,
            nurse_id,
            other_nurse,
            pharmacist,
            employee,
        }
    }
}

/// A new active user with one role: its access token and id.
pub(crate) async fn user(
    app: &TestApp,
    admin: &str,
    username: &str,
    name: &str,
    role: &str,
) -> (String, String) {
    let mut identity = app.identity().await;
    let person = identity
        .create_person(authed(
            CreatePersonRequest {
                name: name.into(),
                email: format!("{username}@hospital.example"),
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
    let created = identity
        .create_user(authed(
            CreateUserRequest {
                person_id: person.id,
                username: username.into(),
                password: format!("{username} password"),
                roles: vec![role.into()],
                request_id: String::new(),
                active: true,
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    (
        created.tokens.unwrap().access_token,
        created.user.unwrap().id,
    )
}

/// A medicine registered in pharmacy by `admin`; its id.
pub(crate) async fn medicine(app: &TestApp, admin: &str, name: &str) -> String {
    PharmacyServiceClient::new(app.channel().await)
        .create_medicine(authed(
            pharmacy::CreateMedicineRequest {
                medicine: Some(pharmacy::Medicine {
                    name: name.into(),
                    active_ingredient: "metamizol".into(),
                    strength: "500 mg/mL".into(),
                    dosage_form: "solução injetável".into(),
                    unit: "ampola".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .expect("pharmacy registers the medicine")
        .into_inner()
        .medicine
        .unwrap()
        .id
}

/// A material registered in pharmacy by `admin`; its id.
pub(crate) async fn material(app: &TestApp, admin: &str, name: &str) -> String {
    PharmacyServiceClient::new(app.channel().await)
        .create_material(authed(
            pharmacy::CreateMaterialRequest {
                material: Some(pharmacy::Material {
                    name: name.into(),
                    unit: "unidade".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .expect("pharmacy registers the material")
        .into_inner()
        .material
        .unwrap()
        .id
}

/// A routine request for `ward`, bed 1, of `kind` with `items`.
pub(crate) fn asking(kind: RequestKind, ward: &str, items: &[(&str, i64)]) -> CareRequest {
    CareRequest {
        kind: kind as i32,
        priority: Priority::Routine as i32,
        ward: ward.into(),
        bed: "1".into(),
        items: items
            .iter()
            .map(|(id, quantity)| RequestItem {
                item_id: (*id).into(),
                quantity: *quantity,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Creates `request` as `token`.
pub(crate) async fn create(
    client: &mut Client,
    token: &str,
    request: CareRequest,
) -> Result<CareRequest, tonic::Status> {
    Ok(client
        .create_request(authed(
            CreateRequestRequest {
                request: Some(request),
                request_id: String::new(),
            },
            token,
        ))
        .await?
        .into_inner()
        .request
        .unwrap())
}

/// Moves request `id` to `to` as `token`.
pub(crate) async fn transition(
    client: &mut Client,
    token: &str,
    id: &str,
    to: RequestStatus,
    reason: &str,
    dispenser_id: &str,
) -> Result<CareRequest, tonic::Status> {
    Ok(client
        .transition_request(authed(
            TransitionRequestRequest {
                care_request_id: id.into(),
                to: to as i32,
                reason: reason.into(),
                dispenser_id: dispenser_id.into(),
            },
            token,
        ))
        .await?
        .into_inner()
        .request
        .unwrap())
}
