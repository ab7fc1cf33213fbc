//! WatchRequests: the open requests first, then each change, heartbeats; a
//! client reconnecting with its last cursor sees every change after it,
//! once; a watcher on one replica sees changes committed on another.

use std::time::Duration;

use tonic::Streaming;

use super::*;
use crate::helpers::{TestApp, authed, config, url};
use malha_api::malha::care::v1::watch_requests_response::Event;

/// Every target, with heartbeats every 300 ms.
async fn spawn() -> TestApp {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let mut config = config(&db.url, &nats.url());
    config
        .services
        .get_mut::<malha_care::CareConfig>()
        .care_watch_heartbeat_ms = 300;
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    app
}

async fn watch(
    care: &mut Client,
    token: &str,
    request: WatchRequestsRequest,
) -> Streaming<WatchRequestsResponse> {
    care.watch_requests(authed(request, token))
        .await
        .expect("watching")
        .into_inner()
}

/// The next message, within 5 s.
async fn next(stream: &mut Streaming<WatchRequestsResponse>) -> WatchRequestsResponse {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("a message within 5 s")
        .expect("the stream is healthy")
        .expect("the stream is open")
}

/// The next request message, skipping heartbeats: (id, status, cursor).
async fn next_request(stream: &mut Streaming<WatchRequestsResponse>) -> (String, i32, String) {
    loop {
        let message = next(stream).await;
        if let Some(Event::Request(request)) = message.event {
            return (request.id, request.status, message.cursor);
        }
    }
}

/// No request message for `quiet` (heartbeats allowed).
async fn no_request_for(stream: &mut Streaming<WatchRequestsResponse>, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    while let Ok(message) = tokio::time::timeout_at(deadline, stream.message()).await {
        let message = message.unwrap().unwrap();
        assert!(
            matches!(message.event, Some(Event::Heartbeat(_))),
            "unexpected {message:?}"
        );
    }
}

#[tokio::test]
async fn the_open_requests_come_first_then_each_change_with_heartbeats_between() {
    let app = spawn().await;
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;
    let ask = |ward: &str| asking(RequestKind::Assistance, ward, &[]);
    let waiting = create(&mut care, &staff.nurse, ask("UTI 2")).await.unwrap();
    let accepted = create(&mut care, &staff.nurse, ask("UTI 2")).await.unwrap();
    transition(
        &mut care,
        &staff.pharmacist,
        &accepted.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap();
    let cancelled = create(&mut care, &staff.nurse, ask("UTI 2")).await.unwrap();
    transition(
        &mut care,
        &staff.nurse,
        &cancelled.id,
        RequestStatus::Cancelled,
        "",
        "",
    )
    .await
    .unwrap();
    create(&mut care, &staff.nurse, ask("Pediatria"))
        .await
        .unwrap();

    let mut stream = watch(
        &mut care,
        &staff.pharmacist,
        WatchRequestsRequest {
            ward: "UTI 2".into(),
            ..Default::default()
        },
    )
    .await;
    let (first, _, snapshot_cursor) = next_request(&mut stream).await;
    let (second, status, cursor) = next_request(&mut stream).await;
    assert_eq!(
        [first, second.clone()],
        [waiting.id.clone(), accepted.id.clone()],
        "open ones, oldest first"
    );
    assert_eq!(status, RequestStatus::Accepted as i32);
    assert_eq!(cursor, snapshot_cursor);
    let end = next(&mut stream).await;
    assert!(
        matches!(end.event, Some(Event::Heartbeat(_))),
        "the snapshot ends with a heartbeat"
    );
    assert_eq!(end.cursor, snapshot_cursor);

    let fresh = create(&mut care, &staff.nurse, ask("UTI 2")).await.unwrap();
    let (id, status, cursor) = next_request(&mut stream).await;
    assert_eq!(
        (id.as_str(), status),
        (fresh.id.as_str(), RequestStatus::Requested as i32)
    );
    assert!(cursor.parse::<i64>().unwrap() > snapshot_cursor.parse::<i64>().unwrap());
    transition(
        &mut care,
        &staff.pharmacist,
        &waiting.id,
        RequestStatus::Rejected,
        "duplicate",
        "",
    )
    .await
    .unwrap();
    let (id, status, _) = next_request(&mut stream).await;
    assert_eq!(
        (id, status),
        (waiting.id.clone(), RequestStatus::Rejected as i32),
        "leaving the open set is sent too"
    );
    // Another ward's changes are not this watcher's.
    create(&mut care, &staff.nurse, ask("Pediatria"))
        .await
        .unwrap();
    let beat = next(&mut stream).await;
    assert!(matches!(beat.event, Some(Event::Heartbeat(_))), "{beat:?}");
}

#[tokio::test]
async fn a_watcher_resuming_from_its_last_cursor_sees_every_change_once() {
    let app = spawn().await;
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;
    let ask = || asking(RequestKind::Assistance, "UTI 2", &[]);
    let a = create(&mut care, &staff.nurse, ask()).await.unwrap();

    let mut stream = watch(
        &mut care,
        &staff.pharmacist,
        WatchRequestsRequest::default(),
    )
    .await;
    let (id, _, _) = next_request(&mut stream).await;
    assert_eq!(id, a.id);
    let b = create(&mut care, &staff.nurse, ask()).await.unwrap();
    let (id, _, cursor) = next_request(&mut stream).await;
    assert_eq!(id, b.id);
    // The connection drops.
    drop(stream);

    // While the watcher is away.
    transition(
        &mut care,
        &staff.pharmacist,
        &a.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap();
    let c = create(&mut care, &staff.nurse, ask()).await.unwrap();
    transition(
        &mut care,
        &staff.nurse,
        &b.id,
        RequestStatus::Cancelled,
        "",
        "",
    )
    .await
    .unwrap();

    let mut resumed = watch(
        &mut care,
        &staff.pharmacist,
        WatchRequestsRequest {
            cursor: cursor.clone(),
            ..Default::default()
        },
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let (id, status, cursor) = next_request(&mut resumed).await;
        got.push((id, status, cursor));
    }
    assert_eq!(
        got.iter()
            .map(|(id, status, _)| (id.clone(), *status))
            .collect::<Vec<_>>(),
        [
            (a.id.clone(), RequestStatus::Accepted as i32),
            (c.id.clone(), RequestStatus::Requested as i32),
            (b.id.clone(), RequestStatus::Cancelled as i32),
        ],
        "every change after the cursor, in order, without the snapshot"
    );
    no_request_for(&mut resumed, Duration::from_millis(800)).await;
    transition(
        &mut care,
        &staff.pharmacist,
        &c.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap();
    let (id, status, _) = next_request(&mut resumed).await;
    assert_eq!((id, status), (c.id.clone(), RequestStatus::Accepted as i32));
    no_request_for(&mut resumed, Duration::from_millis(800)).await;

    let status = care
        .watch_requests(authed(
            WatchRequestsRequest {
                cursor: "999999".into(),
                ..Default::default()
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap_err();
    assert_eq!(crate::helpers::violated_fields(&status), ["cursor"]);
}

#[tokio::test]
async fn a_watcher_on_one_replica_sees_changes_made_on_another() {
    let app = spawn().await;
    let staff = Staff::hire(&app).await;
    // A second care, alone in its process, over the same database.
    let mut config = config(&app.database_url, &app.nats.url());
    let account = app.service_account(&staff.admin, "care replica").await;
    config.auth.client_id = Some(account.client_id);
    config.auth.client_secret = Some(account.client_secret);
    config.auth.identity_url = Some(app.url.clone());
    config
        .services
        .get_mut::<malha_care::CareConfig>()
        .pharmacy_url = Some(app.url.clone());
    let replica = malha::app::start(&config, &malha::targets::resolve("care").unwrap())
        .await
        .expect("the replica starts");
    let replica_url = url(replica.grpc_addr);
    malha::cli::up::wait_until_serving(&replica_url, Duration::from_secs(30))
        .await
        .unwrap();
    let mut on_replica = CareServiceClient::new(
        tonic::transport::Channel::from_shared(replica_url)
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let mut on_main = client(&app).await;

    let mut stream = watch(
        &mut on_replica,
        &staff.pharmacist,
        WatchRequestsRequest::default(),
    )
    .await;
    let end = next(&mut stream).await;
    assert!(
        matches!(end.event, Some(Event::Heartbeat(_))),
        "an empty snapshot"
    );
    let made = create(
        &mut on_main,
        &staff.nurse,
        asking(RequestKind::Assistance, "UTI 2", &[]),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let (id, _, _) = next_request(&mut stream).await;
    assert_eq!(id, made.id);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woken by NOTIFY, not the slow re-read"
    );
    replica.shutdown();
}

#[tokio::test]
async fn the_watch_arrives_through_the_edge_as_server_sent_events() {
    let app = spawn().await;
    let staff = Staff::hire(&app).await;
    let edge = app.edge().await;
    let mut care = client(&app).await;
    let first = create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Assistance, "UTI 2", &[]),
    )
    .await
    .unwrap();

    let mut response = reqwest::Client::new()
        .get(format!("{}/v1/care/requests:watch?ward=UTI%202", edge.url))
        .bearer_auth(&staff.pharmacist)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "{:?}",
        response.headers()
    );
    let mut body = String::new();
    let mut read_until = async |needle: &str, body: &mut String| {
        while !body.contains(needle) {
            let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .expect("the stream is open");
            body.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    read_until(&first.id, &mut body).await;
    read_until("heartbeat", &mut body).await;
    let second = create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Assistance, "UTI 2", &[]),
    )
    .await
    .unwrap();
    read_until(&second.id, &mut body).await;
    assert!(body.lines().any(|l| l.starts_with("data: {")), "{body}");
    assert!(body.contains("\"cursor\""), "{body}");
    drop(response);
    edge.stop().await;
}
