//! Asky's FindItem ("where is item X": the item, then every active cabinet
//! holding it, ordered ward first), driven by h2load with the same shape as
//! target 2, against two references measured in the same run: pgbench
//! running FindItem's two statements (`-M prepared`, 16 clients), and the
//! bare tonic server's health Check (the floor of any RPC here).

use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;
use malha_api::malha::pharmacy::v1::*;
use prost::Message;

use super::Bench;
use super::db::pgbench;
use super::load::{self, Figures, H2Shape, Shape};

const POOL: usize = 16;
/// Cabinets holding the item: a small hospital's worth.
const CABINETS: usize = 6;

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let item = stock_an_item(bench).await?;
    let shape = Shape {
        concurrency: POOL,
        connections: 2,
        ..bench.shape
    };
    let load = H2Shape {
        connections: 2,
        streams: POOL / 2,
        seconds: shape.duration.as_secs().max(2),
        rps: None,
    };
    let find = FindItemRequest {
        item_id: item.clone(),
        ward: "Ala 1".into(),
    }
    .encode_to_vec();
    // FindItem's statements, as the store sends them (outside a transaction).
    let sql = format!(
        "SELECT id AS item_id, kind AS item_kind, name AS item_name, unit AS item_unit, \
                controlled AS item_controlled, active AS item_active FROM items WHERE id = '{item}';\n\
         SELECT d.id, d.code, d.name, d.building, d.floor, d.ward, d.room, d.status, \
                d.created_at, d.updated_at, p.pocket, p.quantity \
           FROM pockets p JOIN dispensers d ON d.id = p.dispenser_id \
          WHERE p.item_id = '{item}' AND d.status = 'active';\n"
    );
    let check = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    }
    .encode_to_vec();

    let (mut rpc, mut bare, mut tps) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..bench.rounds {
        rpc.push(
            bench
                .h2load_full("/malha.pharmacy.v1.PharmacyService/FindItem", &find, load)
                .await?,
        );
        bare.push(
            load::h2load_run(
                &bench.h2load,
                &bench.bare,
                "/grpc.health.v1.Health/Check",
                &check,
                Some(&bench.token),
                load,
            )
            .await?,
        );
        tps += pgbench(bench, "pharmacy", &sql, shape).await?;
    }
    let (rpc, bare) = (Figures::combine(&rpc), Figures::combine(&bare));
    let tps = tps / bench.rounds as f64;
    bench.compared(
        "asky",
        format!("FindItem ({CABINETS} cabinets) vs pgbench (same 2 SELECTs)"),
        format!("{:.0} req/s", rpc.rps),
        format!("{tps:.0} tps"),
        rpc.rps / tps.max(1.0),
    );
    bench.measured("asky", "health Check, bare tonic, 2×8 (reference)", bare);
    bench.compared(
        "asky",
        "FindItem vs bare tonic Check (same shape)",
        format!("{:.0} req/s", rpc.rps),
        format!("{:.0} req/s", bare.rps),
        rpc.rps / bare.rps.max(1.0),
    );
    bench.measured("asky", "FindItem, 2×8 (latency)", rpc);
    Ok(())
}

/// A medicine held by [`CABINETS`] cabinets over three wards; its id.
async fn stock_an_item(bench: &Bench) -> anyhow::Result<String> {
    let mut client = PharmacyServiceClient::connect(format!("http://{}", bench.full)).await?;
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", bench.token).parse()?;
    let medicine = client
        .create_medicine(with_bearer(
            CreateMedicineRequest {
                medicine: Some(Medicine {
                    name: "Dipirona (bench)".into(),
                    active_ingredient: "metamizol".into(),
                    strength: "500 mg/mL".into(),
                    dosage_form: "solução injetável".into(),
                    unit: "ampola".into(),
                    ..Medicine::default()
                }),
                request_id: String::new(),
            },
            &bearer,
        ))
        .await?
        .into_inner()
        .medicine
        .unwrap_or_default();
    for n in 0..CABINETS {
        let dispenser = client
            .create_dispenser(with_bearer(
                CreateDispenserRequest {
                    dispenser: Some(Dispenser {
                        code: format!("PYX-BENCH-{n:02}"),
                        name: format!("Bench cabinet {n}"),
                        location: Some(Location {
                            building: "A".into(),
                            floor: "1".into(),
                            ward: format!("Ala {}", n % 3),
                            room: String::new(),
                        }),
                        ..Dispenser::default()
                    }),
                    request_id: String::new(),
                },
                &bearer,
            ))
            .await?
            .into_inner()
            .dispenser
            .unwrap_or_default();
        client
            .set_pocket(with_bearer(
                SetPocketRequest {
                    dispenser_id: dispenser.id.clone(),
                    pocket: "A-01".into(),
                    item_id: medicine.id.clone(),
                    minimum: 0,
                },
                &bearer,
            ))
            .await?;
        client
            .record_movement(with_bearer(
                RecordMovementRequest {
                    dispenser_id: dispenser.id,
                    pocket: "A-01".into(),
                    kind: MovementKind::Restock.into(),
                    quantity: 10 + n as i64,
                    reason: "bench".into(),
                    request_id: String::new(),
                },
                &bearer,
            ))
            .await?;
    }
    Ok(medicine.id)
}

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
