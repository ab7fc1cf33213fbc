//! CreateRequest, GetRequest, ListRequests: items and requester from the
//! peers, every bad field named, idempotency per caller, who may call what,
//! filters and pages, and nothing written when a peer is down.

use std::time::Duration;

use tonic::Code;

use super::*;
use crate::helpers::{TestApp, authed, config, violated_fields};

#[tokio::test]
async fn a_nurse_asks_for_medicine_described_by_pharmacy_and_identity() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let dipirona = medicine(&app, &staff.admin, "Dipirona sódica").await;
    let mut care = client(&app).await;

    let created = create(
        &mut care,
        &staff.nurse,
        CareRequest {
            priority: Priority::Urgent as i32,
            note: "  febre alta  ".into(),
            ..asking(RequestKind::Medicine, "UTI 2", &[(&dipirona, 2)])
        },
    )
    .await
    .expect("created");

    assert_eq!(created.status, RequestStatus::Requested as i32);
    assert_eq!(created.requester_id, staff.nurse_id);
    assert_eq!(created.requester_name, "Bia Souza", "from identity");
    assert_eq!(created.requester_role, "nurse");
    assert_eq!(created.note, "febre alta", "trimmed");
    assert_eq!(created.items.len(), 1);
    assert_eq!(created.items[0].name, "Dipirona sódica", "from pharmacy");
    assert_eq!(created.items[0].unit, "ampola");
    let read = care
        .get_request(authed(
            GetRequestRequest {
                care_request_id: created.id.clone(),
            },
            &staff.employee,
        ))
        .await
        .unwrap()
        .into_inner()
        .request
        .unwrap();
    assert_eq!(read, created);
    let history = care
        .list_request_history(authed(
            ListRequestHistoryRequest {
                care_request_id: created.id.clone(),
            },
            &staff.pharmacist,
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].from, RequestStatus::Unspecified as i32);
    assert_eq!(history[0].to, RequestStatus::Requested as i32);
    assert_eq!(history[0].actor, format!("user:{}", staff.nurse_id));
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;

    let status = care
        .create_request(authed(
            CreateRequestRequest {
                request: Some(CareRequest {
                    kind: RequestKind::Material as i32,
                    priority: 0,
                    ward: String::new(),
                    bed: "x".repeat(21),
                    note: "n".repeat(1001),
                    items: vec![
                        RequestItem {
                            item_id: "not-an-id".into(),
                            quantity: 1,
                            ..Default::default()
                        },
                        RequestItem {
                            item_id: uuid::Uuid::now_v7().to_string(),
                            quantity: 10_001,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
                request_id: "nope".into(),
            },
            &staff.nurse,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        [
            "request.priority",
            "request.ward",
            "request.bed",
            "request.note",
            "request.items[0].item_id",
            "request.items[1].quantity",
            "request_id",
        ]
    );

    let status = create(
        &mut care,
        &staff.nurse,
        asking(
            RequestKind::Assistance,
            "UTI 2",
            &[(&uuid::Uuid::now_v7().to_string(), 1)],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&status), ["request.items"]);

    let status = care
        .list_requests(authed(
            ListRequestsRequest {
                page_size: -1,
                page_token: "%%".into(),
                kind: 77,
                ..Default::default()
            },
            &staff.employee,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["kind", "page_size"]);

    let status = care
        .get_request(authed(
            GetRequestRequest {
                care_request_id: "42".into(),
            },
            &staff.employee,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["care_request_id"]);
}

#[tokio::test]
async fn items_must_exist_in_pharmacy_be_of_the_requests_kind_and_be_active() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let dipirona = medicine(&app, &staff.admin, "Dipirona sódica").await;
    let gaze = material(&app, &staff.admin, "Gaze estéril").await;
    let mut care = client(&app).await;

    // A material on a medicine request, and an id pharmacy never issued.
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = create(
        &mut care,
        &staff.nurse,
        asking(
            RequestKind::Medicine,
            "UTI 2",
            &[(&dipirona, 1), (&gaze, 1), (&unknown, 1)],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violated_fields(&status),
        ["request.items[1].item_id", "request.items[2].item_id"]
    );
    // The same material on a material request is fine.
    create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Material, "UTI 2", &[(&gaze, 3)]),
    )
    .await
    .expect("a material request for a material");

    PharmacyServiceClient::new(app.channel().await)
        .deactivate_medicine(authed(
            pharmacy::DeactivateMedicineRequest {
                medicine_id: dipirona.clone(),
            },
            &staff.admin,
        ))
        .await
        .unwrap();
    let status = create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Medicine, "UTI 2", &[(&dipirona, 1)]),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("Dipirona sódica"), "{status:?}");
}

#[tokio::test]
async fn a_retried_create_returns_the_first_request_and_keys_belong_to_their_caller() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;
    let key = uuid::Uuid::now_v7().to_string();
    let ask = |token: &str, ward: &str| {
        authed(
            CreateRequestRequest {
                request: Some(asking(RequestKind::Assistance, ward, &[])),
                request_id: key.clone(),
            },
            token,
        )
    };

    let first = care
        .create_request(ask(&staff.nurse, "UTI 2"))
        .await
        .unwrap()
        .into_inner();
    let again = care
        .create_request(ask(&staff.nurse, "UTI 2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the retry replays the first answer");
    let other_body = care
        .create_request(ask(&staff.nurse, "UTI 3"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&other_body), ["request_id"]);
    let other_nurse = care
        .create_request(ask(&staff.other_nurse, "UTI 2"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other_nurse.request.unwrap().id, first.request.unwrap().id);

    let listed = care
        .list_requests(authed(ListRequestsRequest::default(), &staff.employee))
        .await
        .unwrap()
        .into_inner()
        .requests;
    assert_eq!(
        listed.len(),
        2,
        "one request per caller, however often retried"
    );
}

#[tokio::test]
async fn each_role_may_do_exactly_its_part() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let customer = app.customer_token().await;
    let mut care = client(&app).await;
    let assistance = || asking(RequestKind::Assistance, "UTI 2", &[]);

    for token in [&staff.nurse, &staff.admin] {
        create(&mut care, token, assistance())
            .await
            .expect("nurses and admins ask");
    }
    for token in [&staff.pharmacist, &staff.employee, &customer] {
        let status = create(&mut care, token, assistance()).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let status = care
        .create_request(CreateRequestRequest {
            request: Some(assistance()),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    for token in [
        &staff.nurse,
        &staff.pharmacist,
        &staff.employee,
        &staff.admin,
    ] {
        care.list_requests(authed(ListRequestsRequest::default(), token))
            .await
            .expect("staff read");
    }
    let status = care
        .list_requests(authed(ListRequestsRequest::default(), &customer))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    for token in [&staff.pharmacist, &staff.admin] {
        care.watch_requests(authed(WatchRequestsRequest::default(), token))
            .await
            .expect("pharmacy staff watch");
    }
    for token in [&staff.nurse, &staff.employee] {
        let status = care
            .watch_requests(authed(WatchRequestsRequest::default(), token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
}

#[tokio::test]
async fn lists_filter_by_ward_kind_and_status_newest_first_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let gaze = material(&app, &staff.admin, "Gaze estéril").await;
    let mut care = client(&app).await;
    let mut made = Vec::new();
    for (kind, ward, items) in [
        (RequestKind::Assistance, "UTI 2", vec![]),
        (RequestKind::Material, "UTI 2", vec![(gaze.as_str(), 1)]),
        (RequestKind::Assistance, "Pediatria", vec![]),
        (RequestKind::Material, "UTI 2", vec![(gaze.as_str(), 2)]),
    ] {
        made.push(
            create(&mut care, &staff.nurse, asking(kind, ward, &items))
                .await
                .unwrap()
                .id,
        );
    }
    transition(
        &mut care,
        &staff.pharmacist,
        &made[3],
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap();
    let list = |ward: &str, kind: RequestKind, status: RequestStatus, page_token: String| {
        ListRequestsRequest {
            page_size: 1,
            page_token,
            ward: ward.into(),
            kind: kind as i32,
            status: status as i32,
        }
    };

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = care
            .list_requests(authed(
                list(
                    "UTI 2",
                    RequestKind::Unspecified,
                    RequestStatus::Unspecified,
                    token,
                ),
                &staff.employee,
            ))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.requests.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [made[3].clone(), made[1].clone(), made[0].clone()],
        "newest first"
    );

    let page = care
        .list_requests(authed(
            ListRequestsRequest {
                kind: RequestKind::Material as i32,
                status: RequestStatus::Requested as i32,
                ..Default::default()
            },
            &staff.employee,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = page.requests.into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [made[1].clone()]);
}

#[tokio::test]
async fn pharmacy_down_is_unavailable_and_nothing_is_written() {
    let db = malha_testkit::fresh_database().await.unwrap();
    let nats = malha_testkit::NatsServer::start_ephemeral().await.unwrap();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config(&db.url, &nats.url());
    config
        .services
        .get_mut::<malha_care::CareConfig>()
        .pharmacy_url = Some(format!("http://127.0.0.1:{closed}"));
    let app = TestApp::start(&config, nats).await;
    malha::cli::up::wait_until_serving(&app.url, Duration::from_secs(30))
        .await
        .unwrap();
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;

    let started = std::time::Instant::now();
    let status = create(
        &mut care,
        &staff.nurse,
        asking(
            RequestKind::Medicine,
            "UTI 2",
            &[(&uuid::Uuid::now_v7().to_string(), 1)],
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message() == "pharmacy did not answer; nothing was changed, retry later",
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the deadline"
    );

    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let (requests, changes, outbox): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM care.requests), (SELECT count(*) FROM care.request_changes),
                (SELECT count(*) FROM care.outbox)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((requests, changes, outbox), (0, 0, 0));

    // An assistance request needs no pharmacy.
    create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Assistance, "UTI 2", &[]),
    )
    .await
    .expect("assistance without pharmacy");
}

/// A TCP forwarder to `upstream` that can be cut: then it closes every
/// connection and its port refuses new ones (identity gone, as far as the
/// caller can tell).
async fn cuttable_proxy(
    upstream: std::net::SocketAddr,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (cut, mut cut_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { break };
                    connections.spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
                _ = &mut cut_rx => break,
            }
        }
        // Dropping the listener and the tasks closes the port and every link.
        connections.abort_all();
    });
    (url, cut)
}

#[tokio::test]
async fn identity_down_is_unavailable_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let (identity_url, cut) = cuttable_proxy(app.server.grpc_addr).await;
    // Care alone in its process, reaching identity through the proxy and
    // pharmacy directly.
    let mut config = config(&app.database_url, &app.nats.url());
    let account = app.service_account(&staff.admin, "care").await;
    config.auth.client_id = Some(account.client_id);
    config.auth.client_secret = Some(account.client_secret);
    config.auth.identity_url = Some(identity_url);
    config
        .services
        .get_mut::<malha_care::CareConfig>()
        .pharmacy_url = Some(app.url.clone());
    let replica = malha::app::start(&config, &malha::targets::resolve("care").unwrap())
        .await
        .expect("care starts");
    let replica_url = crate::helpers::url(replica.grpc_addr);
    malha::cli::up::wait_until_serving(&replica_url, Duration::from_secs(30))
        .await
        .unwrap();
    let mut care = CareServiceClient::new(
        tonic::transport::Channel::from_shared(replica_url)
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let ask = || asking(RequestKind::Assistance, "UTI 2", &[]);
    create(&mut care, &staff.nurse, ask())
        .await
        .expect("identity reachable");

    cut.send(()).unwrap();
    let status = create(&mut care, &staff.nurse, ask()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.message(),
        "identity did not answer; nothing was changed, retry later"
    );

    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let (requests, changes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM care.requests), (SELECT count(*) FROM care.request_changes)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (requests, changes),
        (1, 1),
        "only the request made while identity answered"
    );
    replica.shutdown();
}
