//! Icarus end to end through real PostgreSQL, NATS JetStream and gRPC:
//! creating a project subtracts its materials from inventory exactly once,
//! under duplicate publishing, redelivery, a broker restart and a service
//! restart with unsent outbox rows.

use std::time::Duration;

use futures::StreamExt;
use prost::Message;
use tonic::transport::Channel;

use crate::helpers::{TestApp, authed, config, eventually};
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::inventory::v1::*;
use malha_api::malha::projects::v1::projects_service_client::ProjectsServiceClient;
use malha_api::malha::projects::v1::*;
use malha_kit::events::Envelope;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const WAIT: Duration = Duration::from_secs(20);

struct Icarus {
    token: String,
    inventory: InventoryServiceClient<Channel>,
    projects: ProjectsServiceClient<Channel>,
}

impl Icarus {
    async fn new(app: &TestApp, token: String) -> Self {
        Self {
            token,
            inventory: InventoryServiceClient::new(app.channel().await),
            projects: ProjectsServiceClient::new(app.channel().await),
        }
    }

    /// A product with `stock` on hand (a receipt) and a minimum level.
    async fn product(&mut self, sku: &str, stock: i64, minimum: i64) -> Product {
        let product = self
            .inventory
            .create_product(authed(
                CreateProductRequest {
                    product: Some(Product {
                        sku: sku.into(),
                        name: format!("MDF {sku}"),
                        unit: "sheet".into(),
                        minimum_level: minimum,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap();
        if stock > 0 {
            self.inventory
                .record_movement(authed(
                    RecordMovementRequest {
                        product_id: product.id.clone(),
                        kind: MovementKind::Receipt as i32,
                        quantity: stock,
                        reason: "initial count".into(),
                        request_id: String::new(),
                    },
                    &self.token,
                ))
                .await
                .unwrap();
        }
        product
    }

    async fn project(&mut self, uses: &[(&Product, i64)]) -> Project {
        self.projects
            .create_project(authed(
                CreateProjectRequest {
                    project: Some(Project {
                        name: "Cozinha planejada".into(),
                        client: "Dona Maria".into(),
                        materials: uses
                            .iter()
                            .map(|(p, quantity)| Material {
                                product_id: p.id.clone(),
                                product_name: p.name.clone(),
                                quantity: *quantity,
                            })
                            .collect(),
                        ..Default::default()
                    }),
                    request_id: uuid::Uuid::now_v7().to_string(),
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .project
            .unwrap()
    }

    async fn on_hand(&mut self, product: &Product) -> i64 {
        self.inventory
            .get_product(authed(
                GetProductRequest {
                    product_id: product.id.clone(),
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
            .quantity_on_hand
    }

    async fn consumptions(&mut self, product: &Product) -> Vec<Movement> {
        self.inventory
            .list_movements(authed(
                ListMovementsRequest {
                    product_id: product.id.clone(),
                    page_size: 100,
                    page_token: String::new(),
                },
                &self.token,
            ))
            .await
            .unwrap()
            .into_inner()
            .movements
            .into_iter()
            .filter(|m| m.kind == MovementKind::Consumption as i32)
            .collect()
    }

    /// Waits until `product` has `expected` on hand.
    async fn expect_on_hand(&mut self, product: &Product, expected: i64) {
        let mut last = 0;
        let found = tokio::time::timeout(WAIT, async {
            loop {
                last = self.on_hand(product).await;
                if last == expected {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            found.is_ok(),
            "{} never reached {expected} (last {last})",
            product.sku
        );
    }
}

async fn expect_health(app: &TestApp, service: &str, wanted: ServingStatus) {
    let channel = app.channel().await;
    eventually(&format!("{service} to be {wanted:?}"), WAIT, || {
        let mut health = HealthClient::new(channel.clone());
        async move {
            let status = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .ok()?
                .into_inner()
                .status;
            (status == wanted as i32).then_some(())
        }
    })
    .await;
}

async fn sql(app: &TestApp) -> sqlx::PgPool {
    sqlx::PgPool::connect(&app.database_url).await.unwrap()
}

#[tokio::test]
async fn a_new_project_subtracts_its_materials_exactly_once() {
    let app = TestApp::spawn().await;
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let mdf = icarus.product("MDF-15", 10, 0).await;
    let pine = icarus.product("PINE-20", 5, 0).await;
    let project = icarus.project(&[(&mdf, 3), (&pine, 2)]).await;
    assert_eq!(project.status, ProjectStatus::Planned as i32);
    assert_eq!(project.materials.len(), 2);

    icarus.expect_on_hand(&mdf, 7).await;
    icarus.expect_on_hand(&pine, 3).await;
    let used = icarus.consumptions(&mdf).await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].delta, -3);
    assert_eq!(used[0].source, format!("project:{}", project.id));
}

#[tokio::test]
async fn a_shortage_is_recorded_and_published_and_stock_never_goes_negative() {
    let app = TestApp::spawn().await;
    let nats = async_nats::connect(app.nats.url()).await.unwrap();
    let mut shortages = nats.subscribe("inventory.stock.shortage").await.unwrap();
    let mut lows = nats.subscribe("inventory.stock.low").await.unwrap();
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let scarce = icarus.product("OAK-5", 2, 0).await;
    let plenty = icarus.product("MDF-9", 10, 6).await;
    let project = icarus.project(&[(&scarce, 5), (&plenty, 5)]).await;

    // The scarce material is refused whole; the other one is used and
    // crosses its minimum level.
    icarus.expect_on_hand(&plenty, 5).await;
    assert_eq!(icarus.on_hand(&scarce).await, 2);
    assert!(icarus.consumptions(&scarce).await.is_empty());
    let recorded = icarus
        .inventory
        .list_shortages(authed(
            ListShortagesRequest {
                project_id: project.id.clone(),
                ..Default::default()
            },
            &icarus.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .shortages;
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].requested, recorded[0].available), (5, 2));

    let message = tokio::time::timeout(WAIT, shortages.next())
        .await
        .unwrap()
        .unwrap();
    let envelope = Envelope::decode(message.payload.as_ref()).unwrap();
    let event: StockShortage = malha_kit::events::open(&envelope).unwrap();
    assert_eq!(event.product_id, scarce.id);
    assert_eq!(event.project_id, project.id);
    let message = tokio::time::timeout(WAIT, lows.next())
        .await
        .unwrap()
        .unwrap();
    let low: StockLow =
        malha_kit::events::open(&Envelope::decode(message.payload.as_ref()).unwrap()).unwrap();
    assert_eq!((low.quantity_on_hand, low.minimum_level), (5, 6));
}

#[tokio::test]
async fn duplicates_from_the_relay_and_redeliveries_change_nothing() {
    let app = TestApp::spawn().await;
    let db = sql(&app).await;
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let mdf = icarus.product("MDF-DUP", 10, 0).await;
    icarus.project(&[(&mdf, 4)]).await;
    icarus.expect_on_hand(&mdf, 6).await;

    // The relay crashed after publishing and before marking the row sent:
    // it publishes the same event (same message id) again.
    sqlx::query("UPDATE projects.outbox SET published_at = NULL")
        .execute(&db)
        .await
        .unwrap();
    eventually("the relay to publish again", WAIT, || async {
        let unsent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM projects.outbox WHERE published_at IS NULL")
                .fetch_one(&db)
                .await
                .unwrap();
        (unsent == 0).then_some(())
    })
    .await;

    // The consumer committed but its ack was lost: the broker delivers the
    // event again (beyond the broker's de-duplication: a new message id).
    let envelope: Vec<u8> = sqlx::query_scalar("SELECT envelope FROM projects.outbox")
        .fetch_one(&db)
        .await
        .unwrap();
    let nats = async_nats::connect(app.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "a-redelivery-with-a-new-message-id");
    js.publish_with_headers("projects.project.created", headers, envelope.into())
        .await
        .unwrap()
        .await
        .unwrap();

    // The consumer has seen the copy (acked it) and changed nothing.
    let stream = js.get_stream("EVENTS_PROJECTS").await.unwrap();
    eventually("the copy to be consumed", WAIT, || {
        let stream = stream.clone();
        async move {
            let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
                .get_consumer("inventory-project-created")
                .await
                .ok()?;
            let info = consumer.info().await.ok()?;
            (info.ack_floor.stream_sequence >= 2 && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
    assert_eq!(icarus.on_hand(&mdf).await, 6);
    assert_eq!(icarus.consumptions(&mdf).await.len(), 1);
}

#[tokio::test]
async fn a_broker_restart_mid_flow_loses_nothing() {
    let mut app = TestApp::spawn().await;
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let mdf = icarus.product("MDF-NATS", 10, 0).await;

    app.nats.stop();
    // Readiness follows the event bus...
    expect_health(
        &app,
        "malha.projects.v1.ProjectsService",
        ServingStatus::NotServing,
    )
    .await;
    // ...and the project still commits, its event waiting in the outbox.
    icarus.project(&[(&mdf, 3)]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(icarus.on_hand(&mdf).await, 10);

    app.nats.start().await.unwrap();
    expect_health(
        &app,
        "malha.projects.v1.ProjectsService",
        ServingStatus::Serving,
    )
    .await;
    icarus.expect_on_hand(&mdf, 7).await;
    icarus.project(&[(&mdf, 2)]).await;
    icarus.expect_on_hand(&mdf, 5).await;
    assert_eq!(icarus.consumptions(&mdf).await.len(), 2);
}

#[tokio::test]
async fn a_restart_with_unsent_outbox_rows_delivers_them_once() {
    let mut app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut icarus = Icarus::new(&app, token.clone()).await;
    let mdf = icarus.product("MDF-RESTART", 10, 0).await;

    app.nats.stop();
    icarus.project(&[(&mdf, 4)]).await;
    let database_url = app.database_url.clone();
    let mut nats = app.stop().await;

    nats.start().await.unwrap();
    let nats_url = nats.url();
    let app = TestApp::start(&config(&database_url, &nats_url), nats).await;
    malha::cli::up::wait_until_serving(&app.url, WAIT)
        .await
        .unwrap();
    let mut icarus = Icarus::new(&app, token).await;
    icarus.expect_on_hand(&mdf, 6).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(icarus.on_hand(&mdf).await, 6);
    assert_eq!(icarus.consumptions(&mdf).await.len(), 1);
}

#[tokio::test]
async fn projects_and_products_validate_their_input() {
    let app = TestApp::spawn().await;
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let bad = icarus
        .projects
        .create_project(authed(
            CreateProjectRequest {
                project: Some(Project {
                    name: String::new(),
                    materials: vec![Material {
                        product_id: "nope".into(),
                        product_name: "x".into(),
                        quantity: 0,
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &icarus.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        crate::helpers::violated_fields(&bad),
        [
            "project.name",
            "project.materials[0].product_id",
            "project.materials[0].quantity"
        ]
    );
    let mdf = icarus.product("MDF-V", 1, 0).await;
    let overdraw = icarus
        .inventory
        .record_movement(authed(
            RecordMovementRequest {
                product_id: mdf.id.clone(),
                kind: MovementKind::Consumption as i32,
                quantity: 2,
                reason: String::new(),
                request_id: String::new(),
            },
            &icarus.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(overdraw.code(), tonic::Code::FailedPrecondition);
    let duplicate_sku = icarus
        .inventory
        .create_product(authed(
            CreateProductRequest {
                product: Some(Product {
                    sku: "MDF-V".into(),
                    name: "again".into(),
                    unit: "sheet".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &icarus.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(duplicate_sku.code(), tonic::Code::AlreadyExists);
    let customer = app.customer_token().await;
    let denied = icarus
        .inventory
        .list_products(authed(ListProductsRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}

#[tokio::test]
async fn the_event_carries_the_callers_trace_and_poison_goes_to_dead_letters() {
    let app = TestApp::spawn().await;
    let nats = async_nats::connect(app.nats.url()).await.unwrap();
    let mut created = nats.subscribe("projects.project.created").await.unwrap();
    let mut dead = nats.subscribe("deadletter.>").await.unwrap();
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let mdf = icarus.product("MDF-TRACE", 5, 0).await;

    // The producer's span continues the caller's trace; the envelope carries it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = authed(
        CreateProjectRequest {
            project: Some(Project {
                name: "Traced".into(),
                materials: vec![Material {
                    product_id: mdf.id.clone(),
                    product_name: mdf.name.clone(),
                    quantity: 1,
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        },
        &icarus.token,
    );
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    icarus.projects.create_project(request).await.unwrap();
    let message = tokio::time::timeout(WAIT, created.next())
        .await
        .unwrap()
        .unwrap();
    let envelope = Envelope::decode(message.payload.as_ref()).unwrap();
    assert!(
        envelope.traceparent.contains(trace_id),
        "envelope trace context {:?} does not continue {trace_id}",
        envelope.traceparent
    );
    icarus.expect_on_hand(&mdf, 4).await;

    // Something that is not an envelope cannot be applied: dead letter.
    let js = async_nats::jetstream::new(nats.clone());
    js.publish("projects.project.created", "not an envelope".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let letter = tokio::time::timeout(WAIT, dead.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        letter.subject.as_str(),
        "deadletter.inventory-project-created"
    );
    assert_eq!(letter.payload.as_ref(), b"not an envelope");
    assert_eq!(icarus.on_hand(&mdf).await, 4, "nothing else changed");
}

/// A backlog (here: events held while the broker was down) is applied in
/// batches — fewer transactions than events — each event exactly once, and
/// an event that fails in a batch neither fails nor holds back the others.
#[tokio::test]
async fn a_backlog_is_applied_in_batches_once_each_around_a_failing_event() {
    const PROJECTS: i64 = 40;
    let mut app = TestApp::spawn().await;
    let db = sql(&app).await;
    let mut icarus = Icarus::new(&app, app.admin_token().await).await;
    let mdf = icarus.product("MDF-BATCH", 100, 0).await;
    // Runs out in the middle of the backlog (and of a batch).
    let glue = icarus.product("GLUE-BATCH", 15, 0).await;

    app.nats.stop();
    for _ in 0..PROJECTS / 2 {
        icarus.project(&[(&mdf, 1), (&glue, 1)]).await;
    }
    // A well-formed envelope whose payload is not a ProjectCreated: its
    // handler fails, wherever it falls in a batch.
    let template: Vec<u8> = sqlx::query_scalar("SELECT envelope FROM projects.outbox LIMIT 1")
        .fetch_one(&db)
        .await
        .unwrap();
    let mut poison = Envelope::decode(template.as_slice()).unwrap();
    let poison_id = uuid::Uuid::now_v7();
    poison.id = poison_id.to_string();
    poison.payload = b"\xff\xff\xff not a ProjectCreated".to_vec();
    sqlx::query("INSERT INTO projects.outbox (id, subject, envelope) VALUES ($1, $2, $3)")
        .bind(poison_id)
        .bind("projects.project.created")
        .bind(poison.encode_to_vec())
        .execute(&db)
        .await
        .unwrap();
    for _ in 0..PROJECTS / 2 {
        icarus.project(&[(&mdf, 1), (&glue, 1)]).await;
    }
    app.nats.start().await.unwrap();

    icarus.expect_on_hand(&mdf, 100 - PROJECTS).await;
    assert_eq!(icarus.consumptions(&mdf).await.len() as i64, PROJECTS);
    icarus.expect_on_hand(&glue, 0).await;
    assert_eq!(icarus.consumptions(&glue).await.len(), 15);
    let short: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inventory.shortages WHERE product_id = $1::uuid AND available = 0",
    )
    .bind(&glue.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        short,
        PROJECTS - 15,
        "each project past the stock is a shortage"
    );
    let (applied, transactions, poisoned): (i64, i64, bool) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT xmin::text), bool_or(event_id = $1)
           FROM inventory.inbox WHERE consumer = 'inventory-project-created'",
    )
    .bind(poison_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(applied, PROJECTS, "every good event once, the bad one not");
    assert!(
        !poisoned,
        "the failing event's inbox row rolled back with it"
    );
    assert!(
        transactions < applied,
        "{applied} events in {transactions} transactions: the backlog was not batched"
    );
}
