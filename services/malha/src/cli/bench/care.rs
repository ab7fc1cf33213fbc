//! Care's CreateRequest, which makes two gRPC calls before it writes (the
//! requester from identity, the item from pharmacy, concurrently) and then
//! one transaction (request, item, numbered history entry, outbox row,
//! NOTIFYs). Measured against its parts, each measured alone in the same
//! run: GetUser and GetMedicine through the full stack, the transaction in
//! pgbench, and the bare tonic server's health Check. On two shared cores
//! every part costs CPU, so the reference for the whole is the rate at
//! which one core-second pays for all the parts in turn:
//! 1 / (1/GetUser + 1/GetMedicine + 1/pgbench).

use prost::Message;

use super::Bench;
use super::load::{self, H2Shape};
use malha_api::identity::GetMeRequest;
use malha_api::identity::identity_service_client::IdentityServiceClient;
use malha_api::malha::care::v1::{
    CareRequest, CreateRequestRequest, Priority, RequestItem, RequestKind,
    care_service_client::CareServiceClient,
};
use malha_api::malha::pharmacy::v1::{
    CreateMedicineRequest, GetMedicineRequest, Medicine,
    pharmacy_service_client::PharmacyServiceClient,
};

const POOL: usize = 16;
const CREATE: &str = "/malha.care.v1.CareService/CreateRequest";
const GET_USER: &str = "/malha.identity.v1.IdentityService/GetUser";
const GET_MEDICINE: &str = "/malha.pharmacy.v1.PharmacyService/GetMedicine";
const CHECK: &str = "/grpc.health.v1.Health/Check";

fn authed<T>(bench: &Bench, message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", bench.token).parse()?);
    Ok(request)
}

pub(super) async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let url = format!("http://{}", bench.full);
    let me = IdentityServiceClient::connect(url.clone())
        .await?
        .get_me(authed(bench, GetMeRequest {})?)
        .await?
        .into_inner()
        .claims
        .unwrap_or_default();
    let medicine = PharmacyServiceClient::connect(url.clone())
        .await?
        .create_medicine(authed(
            bench,
            CreateMedicineRequest {
                medicine: Some(Medicine {
                    name: "Dipirona sódica".into(),
                    active_ingredient: "metamizol".into(),
                    strength: "500 mg/mL".into(),
                    dosage_form: "solução injetável".into(),
                    unit: "ampola".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        )?)
        .await?
        .into_inner()
        .medicine
        .unwrap_or_default();
    // No request_id: h2load repeats one body, and with a key every call
    // after the first would be a replay.
    let create = CreateRequestRequest {
        request: Some(CareRequest {
            kind: RequestKind::Medicine as i32,
            priority: Priority::Routine as i32,
            ward: "UTI 2".into(),
            bed: "12".into(),
            items: vec![RequestItem {
                item_id: medicine.id.clone(),
                quantity: 2,
                ..Default::default()
            }],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // One real call first: h2load checks only the HTTP status.
    CareServiceClient::connect(url)
        .await?
        .create_request(authed(bench, create.clone())?)
        .await?;
    let create = create.encode_to_vec();
    let get_user = malha_api::identity::GetUserRequest {
        user_id: me.subject.clone(),
    }
    .encode_to_vec();
    let get_medicine = GetMedicineRequest {
        medicine_id: medicine.id.clone(),
    }
    .encode_to_vec();
    let tx_sql = transaction_sql(&medicine.id, &me.subject);
    let shape = super::load::Shape {
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

    let (mut whole, mut users, mut medicines, mut checks, mut tps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0.0);
    for _ in 0..bench.rounds {
        whole.push(bench.h2load_full(CREATE, &create, load).await?);
        users.push(bench.h2load_full(GET_USER, &get_user, load).await?);
        medicines.push(bench.h2load_full(GET_MEDICINE, &get_medicine, load).await?);
        checks.push(load::h2load_run(&bench.h2load, &bench.bare, CHECK, &[], None, load).await?);
        tps += super::db::pgbench(bench, "care", &tx_sql, shape).await?;
    }
    let whole = load::Figures::combine(&whole);
    let users = load::Figures::combine(&users);
    let medicines = load::Figures::combine(&medicines);
    let checks = load::Figures::combine(&checks);
    let tps = tps / bench.rounds as f64;

    bench.measured("asky", "GetUser (identity), 2×8", users);
    bench.measured("asky", "GetMedicine (pharmacy), 2×8", medicines);
    bench.measured("asky", "health Check, bare tonic, 2×8 (reference)", checks);
    let parts =
        1.0 / (1.0 / users.rps.max(1.0) + 1.0 / medicines.rps.max(1.0) + 1.0 / tps.max(1.0));
    bench.compared(
        "asky",
        format!("CreateRequest tx alone in pgbench ({tps:.0} tps)"),
        format!("{tps:.0} tps"),
        String::new(),
        tps / checks.rps.max(1.0),
    );
    bench.judged(
        "asky",
        "CreateRequest (2 gRPC calls + tx) vs its parts",
        Some(whole),
        format!("{:.0} req/s", whole.rps),
        format!("{parts:.0} req/s"),
        whole.rps / parts.max(1.0),
        ">= 0.70".into(),
        whole.rps / parts.max(1.0) >= 0.70,
    );
    bench.compared(
        "asky",
        "CreateRequest vs bare tonic Check",
        format!("{:.0} req/s", whole.rps),
        format!("{:.0} req/s", checks.rps),
        whole.rps / checks.rps.max(1.0),
    );
    Ok(())
}

/// What CreateRequest writes, statement for statement: the request and its
/// item, the read back, the outbox row (marked sent and off-subject, so the
/// relay leaves it be), the numbered history entry and both NOTIFYs.
/// (pgbench reads `:name` as a variable even inside a string literal, so
/// the actor's colon is `chr(58)`.)
fn transaction_sql(medicine: &str, requester: &str) -> String {
    format!(
        "BEGIN;\n\
         INSERT INTO requests (id, kind, priority, ward, bed, note, status, requester_id, requester_name, requester_role) \
         VALUES (gen_random_uuid(), 'medicine', 'routine', 'UTI 2', '12', '', 'requested', '{requester}', 'Bench', 'admin') RETURNING id \\gset\n\
         INSERT INTO request_items (request_id, position, item_id, name, unit, quantity) \
         SELECT CAST(:id AS uuid), ordinality::int - 1, item_id, name, unit, quantity \
         FROM unnest(ARRAY['{medicine}']::uuid[], ARRAY['Dipirona sódica']::text[], ARRAY['ampola']::text[], ARRAY[2]::bigint[]) \
         WITH ORDINALITY AS t(item_id, name, unit, quantity, ordinality);\n\
         SELECT r.id, r.status, i.ids FROM requests r LEFT JOIN LATERAL (SELECT array_agg(item_id ORDER BY position) AS ids FROM request_items WHERE request_id = r.id) i ON true WHERE r.id = CAST(:id AS uuid);\n\
         INSERT INTO outbox (id, subject, envelope, published_at) SELECT gen_random_uuid(), 'care.bench', decode(repeat('ab', 240), 'hex'), now() \
         FROM (SELECT pg_notify('malha_outbox_bench', '')) AS wake;\n\
         UPDATE change_counter SET seq = seq + 1 WHERE only_row RETURNING seq \\gset\n\
         INSERT INTO request_changes (seq, request_id, from_status, to_status, actor, reason, ward, kind, snapshot) \
         VALUES (:seq, CAST(:id AS uuid), NULL, 'requested', 'user' || chr(58) || 'bench', '', 'UTI 2', 'medicine', decode(repeat('ab', 240), 'hex'));\n\
         SELECT pg_notify('malha_care_bench', CAST(:seq AS text));\n\
         COMMIT;\n"
    )
}
