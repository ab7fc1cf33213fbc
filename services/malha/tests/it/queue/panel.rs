//! The TV panel's live stream: a snapshot then each call once, resumed after
//! a dropped connection with nothing lost or repeated, fed by another
//! replica's calls, validated, and served as SSE through the edge.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

use super::tickets::{Clinic, call_next, clinic, issue};
use super::*;
use crate::helpers::{config, url, violated_fields};
use malha::{app, targets};
use malha_api::malha::queue::v1::watch_panel_response::Update;

/// A call must reach a watching panel well within this (the browser test
/// asks for one second end to end).
const LIVE: Duration = Duration::from_secs(1);

async fn watch(client: &mut Client, unit: &Unit, cursor: &str) -> Streaming<WatchPanelResponse> {
    // No token: the panel is public.
    client
        .watch_panel(WatchPanelRequest {
            unit_id: unit.id.clone(),
            cursor: cursor.into(),
            recent: 0,
        })
        .await
        .expect("watch the panel")
        .into_inner()
}

/// The next message that is not a heartbeat, within [`LIVE`].
async fn next_update(stream: &mut Streaming<WatchPanelResponse>) -> Update {
    loop {
        let message = tokio::time::timeout(LIVE, stream.message())
            .await
            .expect("a panel update within a second")
            .expect("the stream stays healthy")
            .expect("the stream stays open");
        match message.update.expect("every message has an update") {
            Update::Heartbeat(_) => {}
            update => return update,
        }
    }
}

async fn next_call(stream: &mut Streaming<WatchPanelResponse>) -> PanelCall {
    match next_update(stream).await {
        Update::Call(call) => call,
        other => panic!("expected a call, got {other:?}"),
    }
}

/// Asserts nothing but heartbeats arrive for a short while.
async fn assert_quiet(stream: &mut Streaming<WatchPanelResponse>) {
    let quiet = tokio::time::timeout(Duration::from_millis(400), async {
        loop {
            let message = stream.message().await.unwrap().unwrap();
            if !matches!(message.update, Some(Update::Heartbeat(_))) {
                return message;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "nothing more was sent: {quiet:?}");
}

async fn recall(client: &mut Client, token: &str, ticket: &Ticket) {
    client
        .recall_ticket(authed(
            RecallTicketRequest {
                ticket_id: ticket.id.clone(),
            },
            token,
        ))
        .await
        .expect("recall");
}

async fn issue_normal(client: &mut Client, token: &str, clinic: &Clinic, count: usize) {
    for _ in 0..count {
        issue(client, token, clinic, Priority::Normal).await;
    }
}

#[tokio::test]
async fn a_panel_resumed_after_a_dropped_connection_sees_every_call_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    let [first_desk, second_desk] = &clinic.desks;
    issue_normal(&mut client, &admin, &clinic, 5).await;
    call_next(&mut client, &admin, first_desk).await.unwrap();

    // Snapshot: the current call, where to go, and the cursor to resume from.
    let mut panel = watch(&mut client, &clinic.unit, "").await;
    let Update::Snapshot(snapshot) = next_update(&mut panel).await else {
        panic!("a watch without a cursor starts with a snapshot");
    };
    assert_eq!(snapshot.recent.len(), 1);
    let current = &snapshot.recent[0];
    assert_eq!(
        (current.code.as_str(), current.desk_name.as_str()),
        ("A001", "Guichê 1")
    );
    assert_eq!(current.service_name, "Clínica geral");
    assert!(!current.recall);
    assert_eq!(snapshot.cursor, current.cursor);

    // Live.
    call_next(&mut client, &admin, second_desk).await.unwrap();
    let live = next_call(&mut panel).await;
    assert_eq!(
        (live.code.as_str(), live.desk_name.as_str()),
        ("A002", "Guichê 2")
    );
    let cursor = live.cursor.clone();

    // The connection drops; calls go on meanwhile.
    drop(panel);
    let a003 = call_next(&mut client, &admin, first_desk).await.unwrap();
    recall(&mut client, &admin, &a003).await;
    call_next(&mut client, &admin, second_desk).await.unwrap();

    // Resumed: exactly the missed calls, in order, then live ones; no snapshot.
    let mut panel = watch(&mut client, &clinic.unit, &cursor).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let call = next_call(&mut panel).await;
        seen.push((call.code, call.desk_name, call.recall));
    }
    call_next(&mut client, &admin, first_desk).await.unwrap();
    let call = next_call(&mut panel).await;
    seen.push((call.code, call.desk_name, call.recall));
    let expected = [
        ("A003", "Guichê 1", false),
        ("A003", "Guichê 1", true),
        ("A004", "Guichê 2", false),
        ("A005", "Guichê 1", false),
    ];
    assert_eq!(
        seen,
        expected.map(|(code, desk, recall)| (code.to_owned(), desk.to_owned(), recall))
    );
    assert_quiet(&mut panel).await;

    // A fresh snapshot lists the last calls newest first.
    let mut fresh = watch(&mut client, &clinic.unit, "").await;
    let Update::Snapshot(snapshot) = next_update(&mut fresh).await else {
        panic!("snapshot first");
    };
    let codes: Vec<_> = snapshot.recent.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["A005", "A004", "A003", "A003", "A002", "A001"]);
}

/// Another `malha serve --target queue` over the same database and NATS.
async fn queue_replica(app: &TestApp) -> malha_kit::server::RunningServer {
    let mut config = config(&app.database_url, &app.nats.url());
    let admin = app.admin_token().await;
    let account = app
        .service_account(&admin, &format!("queue replica {}", uuid::Uuid::now_v7()))
        .await;
    config.auth.client_id = Some(account.client_id);
    config.auth.client_secret = Some(account.client_secret);
    config.auth.identity_url = Some(app.url.clone());
    let server = app::start(&config, &targets::resolve("queue").unwrap())
        .await
        .expect("the replica starts");
    malha::cli::up::wait_until_serving(&url(server.grpc_addr), Duration::from_secs(30))
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn a_panel_on_one_replica_shows_calls_made_on_another() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    issue_normal(&mut client, &admin, &clinic, 2).await;

    let other = queue_replica(&app).await;
    let mut on_other = QueueServiceClient::connect(url(other.grpc_addr))
        .await
        .unwrap();
    let mut panel = watch(&mut on_other, &clinic.unit, "").await;
    let Update::Snapshot(snapshot) = next_update(&mut panel).await else {
        panic!("snapshot first");
    };
    assert!(snapshot.recent.is_empty(), "no call yet");
    assert_eq!(snapshot.cursor, "0");
    assert_eq!(snapshot.unit_name, "Clínica Centro");

    for expected in ["A001", "A002"] {
        call_next(&mut client, &admin, &clinic.desks[0])
            .await
            .unwrap();
        assert_eq!(next_call(&mut panel).await.code, expected);
    }
    other.shutdown();
    // Shutting down ends the watch with UNAVAILABLE: watch again elsewhere.
    let ended = loop {
        match panel.message().await {
            Ok(Some(_)) => {}
            other => break other,
        }
    };
    assert_eq!(ended.unwrap_err().code(), Code::Unavailable);
    other.wait().await.unwrap();
}

#[tokio::test]
async fn watching_validates_every_field_and_refuses_a_cursor_from_elsewhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;

    let bad = client
        .watch_panel(WatchPanelRequest {
            unit_id: "nope".into(),
            cursor: "-3".into(),
            recent: 21,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad), ["unit_id", "cursor", "recent"]);

    let unknown = client
        .watch_panel(WatchPanelRequest {
            unit_id: uuid::Uuid::now_v7().to_string(),
            ..WatchPanelRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let clinic = clinic(&mut client, &admin).await;
    let future = client
        .watch_panel(WatchPanelRequest {
            unit_id: clinic.unit.id.clone(),
            cursor: "7".into(),
            recent: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(future.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&future), ["cursor"]);
}

/// The `data:` JSON of each SSE event in `body`, as events arrive.
async fn sse_events(response: reqwest::Response, count: usize) -> Vec<serde_json::Value> {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    while events.len() < count {
        let chunk = tokio::time::timeout(LIVE, body.next())
            .await
            .expect("an SSE event within a second")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            if !data.is_empty() {
                let json: serde_json::Value = serde_json::from_str(&data).unwrap();
                if json.get("heartbeat").is_none() {
                    events.push(json);
                }
            }
        }
    }
    events
}

#[tokio::test]
async fn the_panel_streams_as_sse_through_the_edge_and_resumes_from_a_cursor() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    issue_normal(&mut client, &admin, &clinic, 3).await;
    call_next(&mut client, &admin, &clinic.desks[0])
        .await
        .unwrap();
    let edge = app.edge().await;
    let path = format!("{}/v1/queue/units/{}/panel:watch", edge.url, clinic.unit.id);

    // No token: a TV opens it as it is. SSE is the edge's framing on request
    // (a browser's EventSource asks for it); the default is Envoy's JSON array.
    let sse = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::ACCEPT,
                reqwest::header::HeaderValue::from_static("text/event-stream"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    let response = sse.get(&path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let reading = tokio::spawn(sse_events(response, 2));
    tokio::time::sleep(Duration::from_millis(100)).await;
    call_next(&mut client, &admin, &clinic.desks[1])
        .await
        .unwrap();
    let events = reading.await.unwrap();
    assert_eq!(events[0]["snapshot"]["recent"][0]["code"], "A001");
    assert_eq!(events[0]["snapshot"]["recent"][0]["deskName"], "Guichê 1");
    assert_eq!(events[1]["call"]["code"], "A002");
    assert_eq!(events[1]["call"]["deskName"], "Guichê 2");
    let cursor = events[0]["snapshot"]["cursor"].as_str().unwrap().to_owned();

    // Resumed from the snapshot's cursor with the query or Last-Event-ID.
    let by_query = sse
        .get(format!("{path}?cursor={cursor}"))
        .send()
        .await
        .unwrap();
    let by_header = sse
        .get(&path)
        .header("last-event-id", &cursor)
        .send()
        .await
        .unwrap();
    for response in [by_query, by_header] {
        let events = sse_events(response, 1).await;
        assert_eq!(events[0]["call"]["code"], "A002");
    }
    edge.stop().await;
}

/// Transactions the database committed so far (every statement outside a
/// transaction counts as one).
async fn commits(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[tokio::test]
async fn steady_panel_and_stats_reads_come_from_memory_and_follow_other_replicas() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    issue_normal(&mut client, &admin, &clinic, 1).await;
    call_next(&mut client, &admin, &clinic.desks[0])
        .await
        .unwrap();
    issue_normal(&mut client, &admin, &clinic, 1).await;
    let stats = |client: &mut Client| {
        let mut client = client.clone();
        let (unit, admin) = (clinic.unit.id.clone(), admin.clone());
        async move {
            client
                .get_queue_stats(authed(GetQueueStatsRequest { unit_id: unit }, &admin))
                .await
                .unwrap()
                .into_inner()
                .services[0]
                .waiting
        }
    };
    assert_eq!(
        stats(&mut client).await,
        1,
        "warm: read once from the database"
    );
    let mut warm = watch(&mut client, &clinic.unit, "").await;
    next_update(&mut warm).await;
    drop(warm);

    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let reads = 200;
    // The database is never idle (every service's outbox relay polls each
    // second, readiness checks): what the reads add is measured against an
    // idle window of the same length right after. A backend reports its
    // transactions to pg_stat_database when it next goes idle, at most once
    // a second, so each window starts and ends after a flush interval: the
    // setup's transactions must not land in the busy window, nor the busy
    // window's in the idle one.
    const FLUSHED: Duration = Duration::from_secs(2);
    tokio::time::sleep(FLUSHED).await;
    let started = std::time::Instant::now();
    let before = commits(&db).await;
    for _ in 0..reads {
        assert_eq!(stats(&mut client).await, 1);
    }
    let opens = 20;
    for _ in 0..opens {
        let mut panel = watch(&mut client, &clinic.unit, "").await;
        let Update::Snapshot(snapshot) = next_update(&mut panel).await else {
            panic!("snapshot first");
        };
        assert_eq!(snapshot.recent[0].code, "A001");
    }
    let took = started.elapsed();
    tokio::time::sleep(FLUSHED).await;
    let busy = commits(&db).await - before;
    let window = started.elapsed();
    let before = commits(&db).await;
    tokio::time::sleep(window).await;
    let idle = commits(&db).await - before;
    eprintln!(
        "{busy} transactions in {window:?} with {reads} stats reads and {opens} panel opens \
         ({took:?}), {idle} in {window:?} idle"
    );
    // Uncached: two statements per stats read, three per open (at least 460
    // more than idle); cached: the opens' catch-up reads at most (about 20).
    // The statistics reach pg_stat_database late under load, so the bound
    // is a quarter of the uncached cost: far above the cached, far below it.
    let added = usize::try_from(busy - idle).unwrap_or(0);
    assert!(
        added < (reads * 2 + opens * 3) / 4,
        "{added} transactions beyond idle for {reads} stats reads and {opens} opens"
    );

    // A ticket issued and called on another replica reaches this one's memory.
    let other = queue_replica(&app).await;
    let mut on_other = QueueServiceClient::connect(url(other.grpc_addr))
        .await
        .unwrap();
    issue_normal(&mut on_other, &admin, &clinic, 1).await;
    crate::helpers::eventually(
        "the issue on the other replica",
        Duration::from_secs(5),
        || {
            let read = stats(&mut client);
            async move { (read.await == 2).then_some(()) }
        },
    )
    .await;
    call_next(&mut on_other, &admin, &clinic.desks[1])
        .await
        .unwrap();
    crate::helpers::eventually(
        "the call on the other replica",
        Duration::from_secs(5),
        || {
            let mut client = client.clone();
            let unit = clinic.unit.clone();
            async move {
                let mut panel = watch(&mut client, &unit, "").await;
                let Update::Snapshot(snapshot) = next_update(&mut panel).await else {
                    return None;
                };
                (snapshot.recent[0].code == "A002").then_some(())
            }
        },
    )
    .await;
    other.shutdown();
    other.wait().await.unwrap();
}
