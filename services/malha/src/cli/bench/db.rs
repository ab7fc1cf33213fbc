//! Target 2, database-bound RPCs: a read by primary key (GetProduct) against
//! what it composes — a bare tonic RPC and pgbench's same SELECT, one after
//! the other — and a create with its outbox row (CreateProject) against
//! pgbench running the same statements in the same transaction shape, at the
//! same concurrency (the service pool's size).

use std::process::Command;

use anyhow::Context;
use malha_api::malha::inventory::v1::{
    CreateProductRequest, GetProductRequest, Product,
    inventory_service_client::InventoryServiceClient,
};
use malha_api::malha::projects::v1::{CreateProjectRequest, Material, Project};
use prost::Message;

use super::Bench;
use super::load::{Figures, H2Shape, Shape};

const POOL: usize = 16;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let product = create_product(bench, "BENCH-READ").await?;
    let shape = Shape {
        concurrency: POOL,
        connections: 2,
        ..bench.shape
    };
    // h2load (raw gRPC frames, light on the shared cores) keeps POOL calls in
    // flight over two connections, as pgbench keeps POOL clients busy.
    let load = H2Shape {
        connections: 2,
        streams: POOL / 2,
        seconds: shape.duration.as_secs().max(2),
        rps: None,
    };

    let get = GetProductRequest {
        product_id: product.clone(),
    }
    .encode_to_vec();
    let read_sql = format!(
        "SELECT id, sku, name, unit, quantity_on_hand, minimum_level, supplier_id, created_at, updated_at \
         FROM products WHERE id = '{product}';\n"
    );
    // A read by primary key cannot beat a bare RPC plus the same query: its
    // reference composes the two rates measured in the same rounds,
    // 1 / (1/bare + 1/pgbench), the rate of doing one after the other.
    let (mut reads, mut bare, mut tps) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        reads.push(
            bench
                .h2load_full(
                    "/malha.inventory.v1.InventoryService/GetProduct",
                    &get,
                    load,
                )
                .await?,
        );
        bare.push(
            super::load::h2load_run(
                &bench.h2load,
                &bench.bare,
                "/grpc.health.v1.Health/Check",
                &[],
                None,
                load,
            )
            .await?
            .rps,
        );
        tps.push(pgbench(bench, "inventory", &read_sql, shape).await?);
    }
    let read = Figures::combine(&reads);
    let (bare_rps, read_tps) = (super::load::median(&bare), super::load::median(&tps));
    let composed = 1.0 / (1.0 / bare_rps.max(1.0) + 1.0 / read_tps.max(1.0));
    let ratio = read.rps / composed.max(1.0);
    bench.judged(
        "2 db",
        format!("GetProduct vs bare RPC ({bare_rps:.0}/s) then SELECT ({read_tps:.0} tps)"),
        Some(read),
        format!("{:.0} req/s", read.rps),
        format!("{composed:.0}/s"),
        ratio,
        ">= 0.80".into(),
        ratio >= 0.80,
    );
    let composed_rounds: Vec<f64> = bare
        .iter()
        .zip(&tps)
        .map(|(b, t)| 1.0 / (1.0 / b.max(1.0) + 1.0 / t.max(1.0)))
        .collect();
    bench.reference_spread(super::load::spread(&composed_rounds));

    let material = create_product(bench, "BENCH-CREATE").await?;
    let project = CreateProjectRequest {
        project: Some(Project {
            name: "Bench".into(),
            materials: vec![Material {
                product_id: material.clone(),
                product_name: "BENCH-CREATE".into(),
                quantity: 1,
            }],
            ..Default::default()
        }),
        request_id: String::new(),
    }
    .encode_to_vec();
    // What CreateProject does in the database, statement for statement (its
    // outbox row is marked sent and off-subject, so the relay leaves it be).
    // The request carries no request_id (h2load repeats one body, so with a
    // key every call after the first would be a replay), and without one the
    // kit's idempotency helper runs no statement: its INSERT INTO idempotency
    // ... ON CONFLICT (caller, rpc, key) DO NOTHING and the UPDATE recording
    // the response only run for a keyed create.
    let create_sql = format!(
        "BEGIN;\n\
         WITH project AS (\
           INSERT INTO projects (id, name, description, client, status, start_time, due_time) \
           VALUES (gen_random_uuid(), 'Bench', '', '', 'planned', NULL, NULL) \
           RETURNING id, name, description, client, status, start_time, due_time, created_at, updated_at\
         ), lines AS (\
           INSERT INTO materials (project_id, product_id, product_name, quantity) \
           SELECT project.id, line.* FROM project, \
             unnest(ARRAY['{material}']::uuid[], ARRAY['BENCH-CREATE']::text[], ARRAY[1]::bigint[]) AS line\
         ) SELECT * FROM project;\n\
         INSERT INTO outbox (id, subject, envelope, published_at) \
         SELECT gen_random_uuid(), 'projects.bench', decode(repeat('ab', 180), 'hex'), now() \
         FROM (SELECT pg_notify('malha_outbox_bench', '')) AS wake;\n\
         COMMIT;\n"
    );
    let (create, create_tps, create_spread) = alternate(
        bench,
        "/malha.projects.v1.ProjectsService/CreateProject",
        &project,
        load,
        ("projects", &create_sql, shape),
    )
    .await?;
    let ratio = create.rps / create_tps.max(1.0);
    bench.judged(
        "2 db",
        "CreateProject (+outbox) vs pgbench (same tx)",
        Some(create),
        format!("{:.0} req/s", create.rps),
        format!("{create_tps:.0} tps"),
        ratio,
        ">= 0.70".into(),
        ratio >= 0.70,
    );
    bench.reference_spread(create_spread);
    Ok(())
}

/// The RPC under h2load, then pgbench with its SQL, `bench.rounds` times;
/// the RPC's figures combined, pgbench's median TPS and its spread.
async fn alternate(
    bench: &Bench,
    path: &str,
    message: &[u8],
    load: H2Shape,
    (schema, sql, shape): (&str, &str, Shape),
) -> anyhow::Result<(Figures, f64, f64)> {
    let (mut rpc, mut tps) = (Vec::new(), Vec::new());
    for _ in 0..bench.rounds {
        rpc.push(bench.h2load_full(path, message, load).await?);
        tps.push(pgbench(bench, schema, sql, shape).await?);
    }
    Ok((
        Figures::combine(&rpc),
        super::load::median(&tps),
        super::load::spread(&tps),
    ))
}

/// Creates a product with plenty of stock; returns its id.
pub(super) async fn create_product(bench: &Bench, sku: &str) -> anyhow::Result<String> {
    let mut client = InventoryServiceClient::connect(format!("http://{}", bench.full)).await?;
    let mut request = tonic::Request::new(CreateProductRequest {
        product: Some(Product {
            sku: sku.into(),
            name: sku.into(),
            unit: "sheet".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", bench.token).parse()?);
    let product = client
        .create_product(request)
        .await?
        .into_inner()
        .product
        .unwrap_or_default();
    let pool = sqlx::PgPool::connect(&bench.database_url).await?;
    sqlx::query("UPDATE inventory.products SET quantity_on_hand = 1000000000 WHERE id = $1::uuid")
        .bind(&product.id)
        .execute(&pool)
        .await?;
    Ok(product.id)
}

/// pgbench's TPS for `script` run in `schema` with the shape's concurrency.
pub(super) async fn pgbench(
    bench: &Bench,
    schema: &str,
    script: &str,
    shape: Shape,
) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script)?;
    let mut command = Command::new(&bench.pgbench);
    command
        .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &bench.pg_port.to_string()])
        .args(["-c", &shape.concurrency.to_string(), "-j", "2"])
        .args(["-T", &shape.duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&file)
        .arg("bench")
        .env("PGOPTIONS", format!("-c search_path={schema}"));
    let output = super::load::output_of(command)
        .await
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed: {}{}",
        text,
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("pgbench printed no tps")
}
