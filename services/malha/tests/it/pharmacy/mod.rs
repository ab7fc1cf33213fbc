//! Every pharmacy RPC through a real server and client: the catalogue
//! (medicines, materials), cabinets and pockets, the stock ledger and the
//! controlled-substance audit, "where is item X", and QR codes; validation
//! naming each field, idempotent creates, and what each role may do.

mod cabinets;
mod catalog;
mod seed;
mod stock;

use tonic::transport::Channel;

use crate::helpers::{TestApp, authed};
use malha_api::identity::{CreatePersonRequest, CreateUserRequest, PersonKind};
use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;
use malha_api::malha::pharmacy::v1::*;

type Client = PharmacyServiceClient<Channel>;

async fn client(app: &TestApp) -> Client {
    PharmacyServiceClient::new(app.channel().await)
}

/// A new active user with `role`, created by `admin`; its access token.
async fn staff_token(app: &TestApp, admin: &str, username: &str, role: &str) -> String {
    let mut identity = app.identity().await;
    let person = identity
        .create_person(authed(
            CreatePersonRequest {
                name: format!("Staff {username}"),
                email: format!("{username}@example.com"),
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
                password: "staff password".into(),
                roles: vec![role.into()],
                request_id: String::new(),
                active: true,
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

/// The tokens of the three kinds of caller the tests compare.
struct Staff {
    admin: String,
    pharmacist: String,
    nurse: String,
}

async fn staff(app: &TestApp) -> Staff {
    let admin = app.admin_token().await;
    Staff {
        pharmacist: staff_token(app, &admin, "caio", "pharmacist").await,
        nurse: staff_token(app, &admin, "bia", "nurse").await,
        admin,
    }
}

fn medicine(name: &str, controlled: bool) -> Medicine {
    Medicine {
        name: name.into(),
        active_ingredient: format!("{name} (ingredient)"),
        strength: "500 mg".into(),
        dosage_form: "comprimido".into(),
        unit: "comprimido".into(),
        controlled,
        ..Medicine::default()
    }
}

async fn create_medicine(client: &mut Client, token: &str, medicine: Medicine) -> Medicine {
    client
        .create_medicine(authed(
            CreateMedicineRequest {
                medicine: Some(medicine),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("create medicine")
        .into_inner()
        .medicine
        .unwrap()
}

async fn create_material(client: &mut Client, token: &str, name: &str) -> Material {
    client
        .create_material(authed(
            CreateMaterialRequest {
                material: Some(Material {
                    name: name.into(),
                    unit: "unidade".into(),
                    ..Material::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("create material")
        .into_inner()
        .material
        .unwrap()
}

fn location(ward: &str) -> Location {
    Location {
        building: "Bloco A".into(),
        floor: "3".into(),
        ward: ward.into(),
        room: "Posto de enfermagem".into(),
    }
}

async fn create_dispenser(client: &mut Client, token: &str, code: &str, ward: &str) -> Dispenser {
    client
        .create_dispenser(authed(
            CreateDispenserRequest {
                dispenser: Some(Dispenser {
                    code: code.into(),
                    name: format!("Pyxis {code}"),
                    location: Some(location(ward)),
                    ..Dispenser::default()
                }),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("create dispenser")
        .into_inner()
        .dispenser
        .unwrap()
}

async fn set_pocket(
    client: &mut Client,
    token: &str,
    dispenser: &Dispenser,
    pocket: &str,
    item_id: &str,
    minimum: i64,
) -> Result<Pocket, tonic::Status> {
    Ok(client
        .set_pocket(authed(
            SetPocketRequest {
                dispenser_id: dispenser.id.clone(),
                pocket: pocket.into(),
                item_id: item_id.into(),
                minimum,
            },
            token,
        ))
        .await?
        .into_inner()
        .pocket
        .unwrap())
}

async fn movement(
    client: &mut Client,
    token: &str,
    dispenser: &Dispenser,
    pocket: &str,
    kind: MovementKind,
    quantity: i64,
) -> Result<Movement, tonic::Status> {
    Ok(client
        .record_movement(authed(
            RecordMovementRequest {
                dispenser_id: dispenser.id.clone(),
                pocket: pocket.into(),
                kind: kind.into(),
                quantity,
                reason: format!("{kind:?} of {quantity}"),
                request_id: String::new(),
            },
            token,
        ))
        .await?
        .into_inner()
        .movement
        .unwrap())
}
