//! Asky end to end: a nurse asks for medicine, a pharmacist watching live
//! accepts, starts and completes it naming the cabinet, and pharmacy
//! dispenses from that cabinet exactly once, through the event bus (care's
//! outbox → `care.request.completed` → pharmacy's inbox); what the cabinet
//! cannot give is refused and noted in the request's history. Exactly once
//! holds under a redelivered event, a second event for the same request and
//! a restarted consumer. [`delivery_flow`] runs against whatever serves a
//! URL: this process (here) or the real `malha up` binary (`e2e.rs`).

use std::time::Duration;

use tonic::transport::Channel;

use crate::care::{self, Staff, asking, create, transition};
use crate::helpers::{TestApp, authed, config, eventually};
use malha_api::malha::care::v1::care_service_client::CareServiceClient;
use malha_api::malha::care::v1::watch_requests_response::Event;
use malha_api::malha::care::v1::*;
use malha_api::malha::pharmacy::v1 as ph;
use malha_api::malha::pharmacy::v1::pharmacy_service_client::PharmacyServiceClient;

const WAIT: Duration = Duration::from_secs(15);

/// A cabinet pocket holding a medicine, as pharmacy shows it.
pub(crate) struct Stocked {
    pub(crate) dispenser_id: String,
    pub(crate) pocket: String,
    pub(crate) medicine_id: String,
    pub(crate) ward: String,
}

async fn pharmacy(url: &str) -> PharmacyServiceClient<Channel> {
    PharmacyServiceClient::connect(url.to_owned())
        .await
        .unwrap()
}

/// What the pocket holds now.
pub(crate) async fn on_hand(url: &str, token: &str, stocked: &Stocked) -> i64 {
    let dispenser = pharmacy(url)
        .await
        .get_dispenser(authed(
            ph::GetDispenserRequest {
                dispenser_id: stocked.dispenser_id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    dispenser
        .pockets
        .iter()
        .find(|p| p.pocket == stocked.pocket)
        .map(|p| p.quantity)
        .expect("the pocket")
}

/// The cabinet's dispense movements for `care_request`.
pub(crate) async fn dispenses_for(
    url: &str,
    token: &str,
    stocked: &Stocked,
    care_request: &str,
) -> Vec<ph::Movement> {
    pharmacy(url)
        .await
        .list_movements(authed(
            ph::ListMovementsRequest {
                dispenser_id: stocked.dispenser_id.clone(),
                page_size: 500,
                page_token: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .movements
        .into_iter()
        .filter(|m| m.care_request_id == care_request)
        .collect()
}

/// The next request message of a watch, skipping heartbeats.
async fn next_request(stream: &mut tonic::Streaming<WatchRequestsResponse>) -> CareRequest {
    loop {
        let message = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("a message in time")
            .unwrap()
            .expect("the watch is open");
        if let Some(Event::Request(request)) = message.event {
            return request;
        }
    }
}

/// The flow at `url`: the nurse asks for `quantity` of the stocked
/// medicine, the pharmacist (watching the ward) carries the request to
/// completion from that cabinet, and the pocket drops by `quantity`, once.
/// Returns the request.
pub(crate) async fn delivery_flow(
    url: &str,
    nurse: &str,
    pharmacist: &str,
    stocked: &Stocked,
    quantity: i64,
) -> CareRequest {
    let mut care = CareServiceClient::connect(url.to_owned()).await.unwrap();
    let before = on_hand(url, pharmacist, stocked).await;
    let mut watch = care
        .watch_requests(authed(
            WatchRequestsRequest {
                ward: stocked.ward.clone(),
                status: RequestStatus::Unspecified as i32,
                ..Default::default()
            },
            pharmacist,
        ))
        .await
        .unwrap()
        .into_inner();

    let asked = create(
        &mut care,
        nurse,
        CareRequest {
            priority: Priority::Urgent as i32,
            ..asking(
                RequestKind::Medicine,
                &stocked.ward,
                &[(&stocked.medicine_id, quantity)],
            )
        },
    )
    .await
    .expect("the nurse asks");
    let seen = loop {
        let request = next_request(&mut watch).await;
        if request.id == asked.id {
            break request;
        }
    };
    assert_eq!(
        seen.status,
        RequestStatus::Requested as i32,
        "the pharmacist sees it live"
    );

    for (to, dispenser) in [
        (RequestStatus::Accepted, ""),
        (RequestStatus::InProgress, ""),
        (RequestStatus::Completed, stocked.dispenser_id.as_str()),
    ] {
        transition(&mut care, pharmacist, &asked.id, to, "", dispenser)
            .await
            .unwrap();
        let change = next_request(&mut watch).await;
        assert_eq!(
            (change.id.as_str(), change.status),
            (asked.id.as_str(), to as i32)
        );
    }

    eventually("the cabinet to dispense", WAIT, || async {
        (on_hand(url, pharmacist, stocked).await == before - quantity).then_some(())
    })
    .await;
    let movements = dispenses_for(url, pharmacist, stocked, &asked.id).await;
    assert_eq!(movements.len(), 1, "{movements:?}");
    assert_eq!(movements[0].quantity, quantity);
    asked
}

/// A fresh hospital: Dipirona in pocket A-01 of PYX-UTI-01 (ward UTI 2),
/// ten of them.
async fn stock(app: &TestApp, admin: &str) -> Stocked {
    let medicine_id = care::medicine(app, admin, "Dipirona sódica").await;
    let mut pharmacy = pharmacy(&app.url).await;
    let dispenser = pharmacy
        .create_dispenser(authed(
            ph::CreateDispenserRequest {
                dispenser: Some(ph::Dispenser {
                    code: "PYX-UTI-01".into(),
                    name: "Pyxis UTI 2".into(),
                    location: Some(ph::Location {
                        building: "Bloco A".into(),
                        floor: "3".into(),
                        ward: "UTI 2".into(),
                        room: "Posto 1".into(),
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .dispenser
        .unwrap();
    pharmacy
        .set_pocket(authed(
            ph::SetPocketRequest {
                dispenser_id: dispenser.id.clone(),
                pocket: "A-01".into(),
                item_id: medicine_id.clone(),
                minimum: 0,
            },
            admin,
        ))
        .await
        .unwrap();
    pharmacy
        .record_movement(authed(
            ph::RecordMovementRequest {
                dispenser_id: dispenser.id.clone(),
                pocket: "A-01".into(),
                kind: ph::MovementKind::Restock as i32,
                quantity: 10,
                reason: "first delivery".into(),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap();
    Stocked {
        dispenser_id: dispenser.id,
        pocket: "A-01".into(),
        medicine_id,
        ward: "UTI 2".into(),
    }
}

async fn sql(app: &TestApp) -> sqlx::PgPool {
    sqlx::PgPool::connect(&app.database_url).await.unwrap()
}

/// Waits until the durable consumer `name` of `stream` has acked every
/// message up to `sequence`.
async fn consumed(app: &TestApp, stream: &str, name: &str, sequence: u64) {
    let js = async_nats::jetstream::new(async_nats::connect(app.nats.url()).await.unwrap());
    let stream = js.get_stream(stream).await.unwrap();
    eventually("the consumer to catch up", WAIT, || {
        let stream = stream.clone();
        async move {
            let mut consumer: async_nats::jetstream::consumer::PullConsumer =
                stream.get_consumer(name).await.ok()?;
            let info = consumer.info().await.ok()?;
            (info.ack_floor.stream_sequence >= sequence && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn a_completed_request_moves_the_cabinets_stock_once() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let stocked = stock(&app, &staff.admin).await;
    delivery_flow(&app.url, &staff.nurse, &staff.pharmacist, &stocked, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        on_hand(&app.url, &staff.pharmacist, &stocked).await,
        7,
        "once"
    );
}

#[tokio::test]
async fn what_the_cabinet_lacks_is_refused_and_noted_in_the_requests_history() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let stocked = stock(&app, &staff.admin).await;
    let mut care = care::client(&app).await;
    let asked = create(
        &mut care,
        &staff.nurse,
        asking(
            RequestKind::Medicine,
            "UTI 2",
            &[(&stocked.medicine_id, 40)],
        ),
    )
    .await
    .unwrap();
    for (to, dispenser) in [
        (RequestStatus::Accepted, ""),
        (RequestStatus::InProgress, ""),
        (RequestStatus::Completed, stocked.dispenser_id.as_str()),
    ] {
        transition(&mut care, &staff.pharmacist, &asked.id, to, "", dispenser)
            .await
            .unwrap();
    }

    let note = eventually("pharmacy's refusal in the history", WAIT, || {
        let mut care = care.clone();
        let token = staff.nurse.clone();
        let id = asked.id.clone();
        async move {
            let changes = care
                .list_request_history(authed(
                    ListRequestHistoryRequest {
                        care_request_id: id,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner()
                .changes;
            changes.into_iter().find(|c| c.actor == "service:pharmacy")
        }
    })
    .await;
    assert_eq!(
        (note.from, note.to),
        (
            RequestStatus::Completed as i32,
            RequestStatus::Completed as i32
        )
    );
    assert!(note.reason.contains("PYX-UTI-01 holds 10"), "{note:?}");
    assert_eq!(
        on_hand(&app.url, &staff.pharmacist, &stocked).await,
        10,
        "nothing dispensed"
    );
    assert!(
        dispenses_for(&app.url, &staff.pharmacist, &stocked, &asked.id)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_redelivered_event_and_a_second_event_for_the_same_request_dispense_nothing_more() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let stocked = stock(&app, &staff.admin).await;
    let asked = delivery_flow(&app.url, &staff.nurse, &staff.pharmacist, &stocked, 3).await;

    // The ack was lost: the same event again, past the broker's
    // de-duplication (a new message id).
    let envelope: Vec<u8> = sqlx::query_scalar(
        "SELECT envelope FROM care.outbox WHERE subject = 'care.request.completed'",
    )
    .fetch_one(&sql(&app).await)
    .await
    .unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(app.nats.url()).await.unwrap());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", "a-redelivery-with-a-new-message-id");
    js.publish_with_headers("care.request.completed", headers, envelope.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
    // And a different event (a new event id) for the same completion.
    let completed: RequestCompleted =
        malha_kit::events::open(&prost::Message::decode(envelope.as_slice()).unwrap()).unwrap();
    let second = malha_kit::events::seal("care", "care.request.completed", &completed);
    js.publish(
        "care.request.completed",
        prost::Message::encode_to_vec(&second).into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let stream = js
        .get_stream("EVENTS_CARE")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .last_sequence;
    consumed(&app, "EVENTS_CARE", "pharmacy-care-completed", stream).await;
    assert_eq!(on_hand(&app.url, &staff.pharmacist, &stocked).await, 7);
    assert_eq!(
        dispenses_for(&app.url, &staff.pharmacist, &stocked, &asked.id)
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_restarted_consumer_dispenses_what_it_missed_once() {
    let mut app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let stocked = stock(&app, &staff.admin).await;
    let mut care = care::client(&app).await;
    let asked = create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Medicine, "UTI 2", &[(&stocked.medicine_id, 4)]),
    )
    .await
    .unwrap();
    transition(
        &mut care,
        &staff.pharmacist,
        &asked.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap();
    transition(
        &mut care,
        &staff.pharmacist,
        &asked.id,
        RequestStatus::InProgress,
        "",
        "",
    )
    .await
    .unwrap();

    // The bus goes away; the completion commits with its event in care's
    // outbox; then the whole process stops.
    app.nats.stop();
    transition(
        &mut care,
        &staff.pharmacist,
        &asked.id,
        RequestStatus::Completed,
        "",
        &stocked.dispenser_id,
    )
    .await
    .unwrap();
    let database_url = app.database_url.clone();
    let mut nats = app.stop().await;

    nats.start().await.unwrap();
    let nats_url = nats.url();
    let app = TestApp::start(&config(&database_url, &nats_url), nats).await;
    malha::cli::up::wait_until_serving(&app.url, WAIT)
        .await
        .unwrap();
    eventually("the restarted consumer to dispense", WAIT, || async {
        (on_hand(&app.url, &staff.pharmacist, &stocked).await == 6).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(on_hand(&app.url, &staff.pharmacist, &stocked).await, 6);
    assert_eq!(
        dispenses_for(&app.url, &staff.pharmacist, &stocked, &asked.id)
            .await
            .len(),
        1
    );
}
