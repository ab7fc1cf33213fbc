//! Target 2, database-bound RPCs: a read by primary key (GetProduct) and a
//! create with its outbox row (CreateProject), each against pgbench running
//! the same statements in the same transaction shape at the same
//! concurrency (the service pool's size).

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
    };

    let get = GetProductRequest {
        product_id: product.clone(),
    }
    .encode_to_vec();
    let read_sql = format!(
        "SELECT id, sku, name, unit, quantity_on_hand, minimum_level, supplier_id, created_at, updated_at \
         FROM products WHERE id = '{product}';\n"
    );
    let (read, read_tps) = alternate(
        bench,
        "/malha.inventory.v1.InventoryService/GetProduct",
        &get,
        load,
        ("inventory", &read_sql, shape),
    )
    .await?;
    let ratio = read.rps / read_tps.max(1.0);
    bench.judged(
        "2 db",
        "GetProduct vs pgbench (same SELECT, prepared)",
        Some(read),
        format!("{:.0} req/s", read.rps),
        format!("{read_tps:.0} tps"),
        ratio,
        ">= 0.70".into(),
        ratio >= 0.70,
    );

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
         INSERT INTO projects (id, name, description, client, status, start_time, due_time) \
         VALUES (gen_random_uuid(), 'Bench', '', '', 'planned', NULL, NULL) RETURNING id \\gset\n\
         INSERT INTO materials (project_id, product_id, product_name, quantity) \
         SELECT CAST(:id AS uuid), * FROM unnest(ARRAY['{material}']::uuid[], ARRAY['BENCH-CREATE']::text[], ARRAY[1]::bigint[]);\n\
         INSERT INTO outbox (id, subject, envelope, published_at) VALUES (gen_random_uuid(), 'projects.bench', decode(repeat('ab', 180), 'hex'), now());\n\
         SELECT pg_notify('malha_outbox_bench', '');\n\
         SELECT id, name, description, client, status, start_time, due_time, created_at, updated_at FROM projects WHERE id = CAST(:id AS uuid);\n\
         COMMIT;\n"
    );
    let (create, create_tps) = alternate(
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
    Ok(())
}

/// The RPC under h2load, then pgbench with its SQL, `bench.rounds` times;
/// the RPC's figures combined and pgbench's mean TPS.
async fn alternate(
    bench: &Bench,
    path: &str,
    message: &[u8],
    load: H2Shape,
    (schema, sql, shape): (&str, &str, Shape),
) -> anyhow::Result<(Figures, f64)> {
    let (mut rpc, mut tps) = (Vec::new(), 0.0);
    for _ in 0..bench.rounds {
        rpc.push(bench.h2load_full(path, message, load).await?);
        tps += pgbench(bench, schema, sql, shape)?;
    }
    Ok((Figures::combine(&rpc), tps / bench.rounds as f64))
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
fn pgbench(bench: &Bench, schema: &str, script: &str, shape: Shape) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script)?;
    let output = Command::new(&bench.pgbench)
        .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &bench.pg_port.to_string()])
        .args(["-c", &shape.concurrency.to_string(), "-j", "2"])
        .args(["-T", &shape.duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&file)
        .arg("bench")
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()
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
