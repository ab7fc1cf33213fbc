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
/// is left alone).
pub async fn clinic(url: &str) -> anyhow::Result<()> {
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
    if units.iter().any(|u| u.name == DEMO_CLINIC) {
        return Ok(());
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
    Ok(())
}

/// The demo administrator's bearer token, logged in through `identity`.
async fn admin_bearer(
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
fn with_bearer<T>(
    message: T,
    bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}
