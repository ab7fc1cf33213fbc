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

/// A demo staff member `malha up` creates and prints.
pub struct DemoStaff {
    /// The login.
    pub username: &'static str,
    /// The password. Change it outside a laptop.
    pub password: &'static str,
    /// The person's name.
    pub name: &'static str,
    /// Identity's role: what the services let them do.
    pub role: &'static str,
    /// The last digits of the create-person and create-user request ids, so
    /// a retried seed within the day is idempotent.
    request_ids: (u32, u32),
}

/// The demo staff: an employee of the snack bar, and Asky's nurse and
/// pharmacist.
pub const DEMO_STAFF: [DemoStaff; 3] = [
    DemoStaff {
        username: "ana",
        password: "malha-employee",
        name: "Ana Souza",
        role: "employee",
        request_ids: (1, 2),
    },
    DemoStaff {
        username: "bia",
        password: "malha-nurse",
        name: "Beatriz Costa",
        role: "nurse",
        request_ids: (4, 5),
    },
    DemoStaff {
        username: "caio",
        password: "malha-pharmacist",
        name: "Caio Ramos",
        role: "pharmacist",
        request_ids: (6, 7),
    },
];

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
    let bearer = admin_bearer(&mut identity).await?;

    // Request ids are remembered for a day only, so what exists is looked up
    // (a demo database is small: one page of users); fixed request ids still
    // make a retried step within the day idempotent.
    let users = identity
        .list_users(with_bearer(
            malha_api::identity::ListUsersRequest {
                page_size: 500,
                page_token: String::new(),
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .users;
    for staff in DEMO_STAFF {
        if users.iter().any(|u| u.username == staff.username) {
            continue;
        }
        let person = identity
            .create_person(with_bearer(
                CreatePersonRequest {
                    name: staff.name.into(),
                    email: format!("{}@malha.local", staff.username),
                    kind: PersonKind::Employee as i32,
                    request_id: format!("0192f000-0000-7000-8000-{:012}", staff.request_ids.0),
                },
                &bearer,
            ))
            .await?
            .into_inner()
            .person
            .unwrap_or_default();
        identity
            .create_user(with_bearer(
                CreateUserRequest {
                    person_id: person.id,
                    username: staff.username.into(),
                    password: staff.password.into(),
                    roles: vec![staff.role.into()],
                    request_id: format!("0192f000-0000-7000-8000-{:012}", staff.request_ids.1),
                    // Vouched for: no activation e-mail.
                    active: true,
                },
                &bearer,
            ))
            .await?;
    }
    register_demo_customer(&mut identity).await
}

async fn register_demo_customer(
    identity: &mut IdentityServiceClient<tonic::transport::Channel>,
) -> anyhow::Result<()> {
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

/// The snack bar's demo menu: the four categories of the source system
/// (snack, side, drink, dessert) and a few products each, priced in
/// centavos. Logs in as the demo administrator; idempotent (what exists by
/// name is left alone).
pub async fn snack_bar_menu(url: &str) -> anyhow::Result<()> {
    use malha_api::malha::orders::v1::orders_service_client::OrdersServiceClient;
    use malha_api::malha::orders::v1::{
        Category, CreateCategoryRequest, CreateProductRequest, ListCategoriesRequest,
        ListProductsRequest, Product,
    };

    /// (name, about, price in centavos).
    type Item = (&'static str, &'static str, i64);
    const MENU: [(&str, &str, &[Item]); 4] = [
        (
            "Lanche",
            "Snacks: burgers and sandwiches",
            &[
                ("X-Burger", "Pão, hambúrguer 150 g, queijo", 2490),
                (
                    "X-Salada",
                    "X-Burger com alface, tomate e maionese da casa",
                    2690,
                ),
                ("X-Bacon", "X-Burger com bacon crocante", 2990),
            ],
        ),
        (
            "Acompanhamento",
            "Sides",
            &[
                ("Batata frita", "Porção individual", 1290),
                ("Onion rings", "Anéis de cebola empanados", 1490),
            ],
        ),
        (
            "Bebida",
            "Drinks",
            &[
                ("Refrigerante lata", "350 ml", 600),
                ("Suco de laranja", "Natural, 400 ml", 900),
                ("Água mineral", "500 ml", 400),
            ],
        ),
        (
            "Sobremesa",
            "Desserts",
            &[
                ("Sorvete", "Duas bolas", 800),
                ("Torta de limão", "Fatia", 1100),
            ],
        ),
    ];

    let bearer = admin_bearer(&mut IdentityServiceClient::connect(url.to_owned()).await?).await?;
    let mut orders = OrdersServiceClient::connect(url.to_owned()).await?;
    let existing = orders
        .list_categories(ListCategoriesRequest {})
        .await?
        .into_inner()
        .categories;
    for (position, (name, description, products)) in (1..).zip(MENU) {
        let category = match existing.iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
            Some(category) => category.clone(),
            None => orders
                .create_category(with_bearer(
                    CreateCategoryRequest {
                        category: Some(Category {
                            name: name.into(),
                            description: description.into(),
                            position,
                            ..Default::default()
                        }),
                        request_id: format!("0192f000-0000-7000-8001-{position:012}"),
                    },
                    &bearer,
                ))
                .await?
                .into_inner()
                .category
                .unwrap_or_default(),
        };
        let on_menu = orders
            .list_products(ListProductsRequest {
                page_size: 500,
                category_id: category.id.clone(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .products;
        for (index, (product, about, price)) in (1..).zip(products.iter()) {
            if on_menu.iter().any(|p| p.name.eq_ignore_ascii_case(product)) {
                continue;
            }
            orders
                .create_product(with_bearer(
                    CreateProductRequest {
                        product: Some(Product {
                            category_id: category.id.clone(),
                            name: (*product).into(),
                            description: (*about).into(),
                            price_centavos: *price,
                            available: true,
                            ..Default::default()
                        }),
                        request_id: format!(
                            "0192f000-0000-7000-8002-{:012}",
                            position * 100 + index
                        ),
                    },
                    &bearer,
                ))
                .await?;
        }
    }
    tracing::info!("snack-bar menu loaded");
    Ok(())
}

/// The demo clinic's name; the seed leaves a unit with this name alone.
pub const DEMO_CLINIC: &str = "Clínica Malha Centro";
/// The demo receptionist's and doctor's logins and password.
pub const DEMO_CLINIC_STAFF: [(&str, &str, &str); 2] = [
    ("rita", "Rita Recepção", "receptionist"),
    ("dr.paulo", "Dr. Paulo Almeida", "doctor"),
];
/// The demo clinic staff's password. Change it outside a laptop.
pub const DEMO_CLINIC_PASSWORD: &str = "malha-clinic";

/// The demo clinic: one unit (São Paulo time) with three services, four
/// desks, a receptionist and a doctor. Logs in as the demo administrator;
/// idempotent (a unit with the demo name, or a user with a demo username,
/// is left alone). Returns the unit's id.
pub async fn clinic(url: &str) -> anyhow::Result<String> {
    use malha_api::malha::queue::v1::queue_service_client::QueueServiceClient;
    use malha_api::malha::queue::v1::{
        CreateDeskRequest, CreateServiceRequest, CreateUnitRequest, Desk, ListUnitsRequest,
        Service, Unit,
    };

    /// (name, letter).
    const SERVICES: [(&str, &str); 3] = [("Clínica geral", "A"), ("Exames", "E"), ("Triagem", "T")];
    /// (desk, letters of the services it serves).
    const DESKS: [(&str, &[&str]); 4] = [
        ("Guichê 1", &["A", "E", "T"]),
        ("Guichê 2", &["A", "E", "T"]),
        ("Consultório 1", &["A"]),
        ("Sala de exames", &["E"]),
    ];

    let mut identity = IdentityServiceClient::connect(url.to_owned()).await?;
    let bearer = admin_bearer(&mut identity).await?;

    let users = identity
        .list_users(with_bearer(
            ListUsersRequest {
                page_size: 500,
                page_token: String::new(),
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .users;
    for (username, name, role) in DEMO_CLINIC_STAFF {
        if users.iter().any(|u| u.username == username) {
            continue;
        }
        let person = with_bearer(
            CreatePersonRequest {
                name: name.into(),
                email: format!("{}@malha.local", username.replace('.', "")),
                kind: PersonKind::Employee as i32,
                request_id: String::new(),
            },
            &bearer,
        );
        let person = identity
            .create_person(person)
            .await?
            .into_inner()
            .person
            .unwrap_or_default();
        let user = with_bearer(
            CreateUserRequest {
                person_id: person.id,
                username: username.into(),
                password: DEMO_CLINIC_PASSWORD.into(),
                roles: vec![role.into()],
                request_id: String::new(),
                // Vouched for: no activation e-mail.
                active: true,
            },
            &bearer,
        );
        identity.create_user(user).await?;
    }

    let mut queue = QueueServiceClient::connect(url.to_owned()).await?;
    let units = queue
        .list_units(with_bearer(
            ListUnitsRequest {
                page_size: 500,
                page_token: String::new(),
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .units;
    if let Some(unit) = units.iter().find(|u| u.name == DEMO_CLINIC) {
        return Ok(unit.id.clone());
    }
    let unit = with_bearer(
        CreateUnitRequest {
            unit: Some(Unit {
                name: DEMO_CLINIC.into(),
                ..Unit::default()
            }),
            request_id: String::new(),
        },
        &bearer,
    );
    let unit = queue
        .create_unit(unit)
        .await?
        .into_inner()
        .unit
        .unwrap_or_default();
    let mut letters = Vec::new();
    for (name, letter) in SERVICES {
        let service = with_bearer(
            CreateServiceRequest {
                service: Some(Service {
                    unit_id: unit.id.clone(),
                    name: name.into(),
                    letter: letter.into(),
                    ..Service::default()
                }),
                request_id: String::new(),
            },
            &bearer,
        );
        let service = queue
            .create_service(service)
            .await?
            .into_inner()
            .service
            .unwrap_or_default();
        letters.push((letter, service.id));
    }
    for (name, serves) in DESKS {
        let service_ids = letters
            .iter()
            .filter(|(letter, _)| serves.contains(letter))
            .map(|(_, id)| id.clone())
            .collect();
        let desk = with_bearer(
            CreateDeskRequest {
                desk: Some(Desk {
                    unit_id: unit.id.clone(),
                    name: name.into(),
                    service_ids,
                    ..Desk::default()
                }),
                request_id: String::new(),
            },
            &bearer,
        );
        queue.create_desk(desk).await?;
    }
    Ok(unit.id)
}

/// A totem's service account (role `totem`): what its setup link carries.
#[derive(Debug, Clone)]
pub struct TotemAccount {
    pub client_id: String,
    pub client_secret: String,
}

impl TotemAccount {
    fn to_json(&self) -> String {
        serde_json::json!({"client_id": self.client_id, "client_secret": self.client_secret})
            .to_string()
    }

    fn from_json(text: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Self {
            client_id: value["client_id"].as_str()?.to_owned(),
            client_secret: value["client_secret"].as_str()?.to_owned(),
        })
    }

    /// The link that sets a totem up for `unit_id` on the edge at `edge`:
    /// the page moves the fragment (never sent to a server) into the
    /// browser's storage.
    pub fn setup_link(&self, edge: &str, unit_id: &str) -> String {
        format!(
            "{edge}/totem/{unit_id}#client_id={}&client_secret={}",
            self.client_id, self.client_secret
        )
    }
}

/// The demo clinic's totem account, kept in `saved` (mode 0600, beside the
/// local data) because its secret is shown only once: reused while identity
/// still accepts it, otherwise a new account is made and saved.
pub async fn demo_totem(url: &str, saved: &std::path::Path) -> anyhow::Result<TotemAccount> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let mut identity = IdentityServiceClient::connect(url.to_owned()).await?;
    if let Ok(text) = std::fs::read_to_string(saved)
        && let Some(account) = TotemAccount::from_json(&text)
        && identity
            .issue_service_token(IssueServiceTokenRequest {
                client_id: account.client_id.clone(),
                client_secret: account.client_secret.clone(),
            })
            .await
            .is_ok()
    {
        return Ok(account);
    }
    let bearer = admin_bearer(&mut identity).await?;
    let created = identity
        .create_service_account(with_bearer(
            CreateServiceAccountRequest {
                name: format!("totem {DEMO_CLINIC} {}", uuid::Uuid::now_v7()),
                roles: vec!["totem".into()],
                request_id: String::new(),
            },
            &bearer,
        ))
        .await?
        .into_inner();
    let account = TotemAccount {
        client_id: created.client_id,
        client_secret: created.client_secret,
    };
    let _ = std::fs::remove_file(saved);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(saved)
        .and_then(|mut file| file.write_all(account.to_json().as_bytes()))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", saved.display()))?;
    Ok(account)
}

/// The demo hospital's wards.
pub const DEMO_WARDS: [&str; 2] = ["UTI Adulto", "Pronto-Socorro"];
/// The demo hospital's cabinets: (code, name, ward index, room).
pub const DEMO_DISPENSERS: [(&str, &str, usize, &str); 3] = [
    (
        "PYX-UTI-01",
        "Pyxis UTI — posto 1",
        0,
        "Posto de enfermagem 1",
    ),
    (
        "PYX-UTI-02",
        "Pyxis UTI — posto 2",
        0,
        "Posto de enfermagem 2",
    ),
    ("PYX-PS-01", "Pyxis Pronto-Socorro", 1, "Sala de medicação"),
];
/// The demo medicines: (name, active ingredient, strength, dosage form,
/// unit, controlled). Morphine is under special control (Portaria 344/98).
pub const DEMO_MEDICINES: [(&str, &str, &str, &str, &str, bool); 12] = [
    (
        "Dipirona sódica",
        "metamizol",
        "500 mg/mL",
        "solução injetável",
        "ampola",
        false,
    ),
    (
        "Paracetamol",
        "paracetamol",
        "500 mg",
        "comprimido",
        "comprimido",
        false,
    ),
    (
        "Amoxicilina",
        "amoxicilina",
        "500 mg",
        "cápsula",
        "cápsula",
        false,
    ),
    (
        "Ceftriaxona",
        "ceftriaxona",
        "1 g",
        "pó para solução injetável",
        "frasco-ampola",
        false,
    ),
    (
        "Omeprazol",
        "omeprazol",
        "40 mg",
        "pó para solução injetável",
        "frasco-ampola",
        false,
    ),
    (
        "Ondansetrona",
        "ondansetrona",
        "2 mg/mL",
        "solução injetável",
        "ampola",
        false,
    ),
    (
        "Insulina regular",
        "insulina humana",
        "100 UI/mL",
        "solução injetável",
        "frasco",
        false,
    ),
    (
        "Heparina",
        "heparina sódica",
        "5.000 UI/0,25 mL",
        "solução injetável",
        "ampola",
        false,
    ),
    (
        "Furosemida",
        "furosemida",
        "10 mg/mL",
        "solução injetável",
        "ampola",
        false,
    ),
    (
        "Captopril",
        "captopril",
        "25 mg",
        "comprimido",
        "comprimido",
        false,
    ),
    (
        "Soro fisiológico",
        "cloreto de sódio",
        "0,9% 500 mL",
        "solução para infusão",
        "bolsa",
        false,
    ),
    (
        "Morfina",
        "sulfato de morfina",
        "10 mg/mL",
        "solução injetável",
        "ampola",
        true,
    ),
];
/// The demo materials: (name, unit).
pub const DEMO_MATERIALS: [(&str, &str); 6] = [
    ("Seringa 10 mL", "unidade"),
    ("Agulha 40x12", "unidade"),
    ("Gaze estéril", "pacote"),
    ("Luva de procedimento M", "par"),
    ("Equipo macrogotas", "unidade"),
    ("Cateter venoso 20G", "unidade"),
];

/// The demo hospital (Asky): two wards, three cabinets with stocked pockets,
/// a dozen medicines (morphine controlled) and six materials; the nurse and
/// pharmacist come with [`demo`]. Logs in as the demo administrator;
/// idempotent: when a demo cabinet exists, nothing is loaded again.
pub async fn hospital(url: &str) -> anyhow::Result<()> {
    use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;
    use malha_api::malha::pharmacy::v1::*;

    let mut identity = IdentityServiceClient::connect(url.to_owned()).await?;
    let bearer = admin_bearer(&mut identity).await?;
    let mut pharmacy = PharmacyServiceClient::connect(url.to_owned()).await?;
    let existing = pharmacy
        .list_dispensers(with_bearer(
            ListDispensersRequest {
                page_size: 500,
                ..ListDispensersRequest::default()
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .dispensers;
    if existing
        .iter()
        .any(|d| DEMO_DISPENSERS.iter().any(|(code, ..)| d.code == *code))
    {
        return Ok(());
    }
    // Fixed request ids: a seed retried within the day creates nothing twice.
    let request_id = |n: usize| format!("0192f000-0000-7000-8001-{n:012}");

    let mut medicines = Vec::new();
    for (n, (name, ingredient, strength, form, unit, controlled)) in
        DEMO_MEDICINES.into_iter().enumerate()
    {
        let created = pharmacy
            .create_medicine(with_bearer(
                CreateMedicineRequest {
                    medicine: Some(Medicine {
                        name: name.into(),
                        active_ingredient: ingredient.into(),
                        strength: strength.into(),
                        dosage_form: form.into(),
                        unit: unit.into(),
                        controlled,
                        ..Medicine::default()
                    }),
                    request_id: request_id(n),
                },
                &bearer,
            ))
            .await?
            .into_inner()
            .medicine
            .unwrap_or_default();
        medicines.push(created.id);
    }
    let mut materials = Vec::new();
    for (n, (name, unit)) in DEMO_MATERIALS.into_iter().enumerate() {
        let created = pharmacy
            .create_material(with_bearer(
                CreateMaterialRequest {
                    material: Some(Material {
                        name: name.into(),
                        unit: unit.into(),
                        ..Material::default()
                    }),
                    request_id: request_id(100 + n),
                },
                &bearer,
            ))
            .await?
            .into_inner()
            .material
            .unwrap_or_default();
        materials.push(created.id);
    }

    for (d, (code, name, ward, room)) in DEMO_DISPENSERS.into_iter().enumerate() {
        let dispenser = pharmacy
            .create_dispenser(with_bearer(
                CreateDispenserRequest {
                    dispenser: Some(Dispenser {
                        code: code.into(),
                        name: name.into(),
                        location: Some(Location {
                            building: "Hospital Asky — Bloco A".into(),
                            floor: if ward == 0 { "3" } else { "Térreo" }.into(),
                            ward: DEMO_WARDS[ward].into(),
                            room: room.into(),
                        }),
                        ..Dispenser::default()
                    }),
                    request_id: request_id(200 + d),
                },
                &bearer,
            ))
            .await?
            .into_inner()
            .dispenser
            .unwrap_or_default();
        // Drawer A: medicines; drawer B: materials. Each cabinet holds a
        // different share of the catalogue, in different amounts, so
        // FindItem has something to order.
        let held_medicines = medicines
            .iter()
            .enumerate()
            .filter(|(m, _)| (m + d) % 3 != 0);
        let held_materials = materials
            .iter()
            .enumerate()
            .filter(|(m, _)| (m + d) % 2 == 0);
        let pockets = held_medicines
            .map(|(m, id)| {
                (
                    format!("A-{:02}", m + 1),
                    id,
                    5 + 3 * ((m + d) % 4) as i64,
                    4,
                )
            })
            .chain(
                held_materials
                    .map(|(m, id)| (format!("B-{:02}", m + 1), id, 20 + 10 * d as i64, 10)),
            );
        for (n, (pocket, item_id, quantity, minimum)) in pockets.enumerate() {
            pharmacy
                .set_pocket(with_bearer(
                    SetPocketRequest {
                        dispenser_id: dispenser.id.clone(),
                        pocket: pocket.clone(),
                        item_id: item_id.clone(),
                        minimum,
                    },
                    &bearer,
                ))
                .await?;
            pharmacy
                .record_movement(with_bearer(
                    RecordMovementRequest {
                        dispenser_id: dispenser.id.clone(),
                        pocket,
                        kind: MovementKind::Restock.into(),
                        quantity,
                        reason: "carga inicial (demo)".into(),
                        request_id: request_id(1000 + 100 * d + n),
                    },
                    &bearer,
                ))
                .await?;
        }
    }
    tracing::info!("demo hospital loaded");
    Ok(())
}

/// The demo administrator's bearer token, logged in through `identity`.
pub(super) async fn admin_bearer(
    identity: &mut IdentityServiceClient<tonic::transport::Channel>,
) -> anyhow::Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
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
    Ok(format!("Bearer {token}").parse()?)
}

/// `message` with the administrator's bearer token.
pub(super) fn with_bearer<T>(
    message: T,
    bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}
