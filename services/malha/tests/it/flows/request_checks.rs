//! Every request is checked on decoding, whatever the RPC: a body that is
//! not protobuf, a string with NUL or control characters, a timestamp
//! outside `google.protobuf.Timestamp`'s range, a page token decoding to
//! NULs are all `INVALID_ARGUMENT` naming the field (never `INTERNAL`), and
//! a row the service cannot encode never breaks a list through the edge.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use malha_api::identity::*;
use malha_api::malha::inventory::v1::ListProductsRequest;
use malha_api::malha::inventory::v1::inventory_service_client::InventoryServiceClient;
use malha_api::malha::payments::v1::payments_service_client::PaymentsServiceClient;
use malha_api::malha::payments::v1::{HandleNotificationRequest, Notification, NotificationData};
use malha_api::malha::projects::v1::projects_service_client::ProjectsServiceClient;
use malha_api::malha::projects::v1::{CreateProjectRequest, Material, Project};
use malha_payments::domain::signature;
use malha_payments::provider::local::{self, Local};
use tonic::{Code, Request};

use super::snackbar;
use crate::helpers::{TestApp, authed, violated_fields};
use crate::kit::http_get;

/// One unary call with `body` as the raw message bytes; the grpc-status.
async fn raw_call(app: &TestApp, path: &str, message: &[u8]) -> (i32, String) {
    let tcp = tokio::net::TcpStream::connect(app.server.grpc_addr)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(message);
    let request = http::Request::post(format!("http://{}{path}", app.server.grpc_addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let mut headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    if let Some(trailers) = collected.trailers() {
        headers.extend(trailers.clone());
    }
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (
        text("grpc-status").parse().expect("a grpc-status"),
        text("grpc-message"),
    )
}

#[tokio::test]
async fn a_body_that_is_not_protobuf_is_invalid_argument_and_counted_as_such() {
    let app = TestApp::spawn().await;
    // A field with wire type 7 (none such), then a length running past the end.
    for garbage in [&[0x0f_u8, 0x01][..], &[0x0a, 0xff, 0xff, 0x01]] {
        let (code, message) =
            raw_call(&app, "/malha.identity.v1.IdentityService/Login", garbage).await;
        assert_eq!(code, Code::InvalidArgument as i32, "{message}");
        assert!(message.contains("not%20a%20valid%20protobuf"), "{message}");
    }
    // Client errors in the metrics, not server errors.
    let line = r#"grpc_server_handled_total{grpc_code="InvalidArgument",grpc_method="Login",grpc_service="malha.identity.v1.IdentityService",grpc_type="unary"} 2"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = http_get(app.server.admin_addr, "/metrics").await;
        if metrics.contains(line) {
            assert!(!metrics.contains(
                r#"grpc_server_handled_total{grpc_code="Internal",grpc_method="Login",grpc_service="malha.identity.v1.IdentityService",grpc_type="unary"} 1"#
            ));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never counted: {line}\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A notification about `data_id` stating an approval, signed with the
/// webhook secret as the local provider expects.
fn signed_notification(data_id: &str, request_id: &str) -> Request<HandleNotificationRequest> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let manifest = signature::manifest(
        data_id,
        request_id,
        &ts,
        &Local::signed_extra(local::APPROVED),
    );
    let header = signature::header(snackbar::SECRET.as_bytes(), &ts, &manifest);
    let mut request = Request::new(HandleNotificationRequest {
        notification: Some(Notification {
            r#type: "payment".into(),
            action: local::APPROVED.into(),
            data: Some(NotificationData { id: data_id.into() }),
            ..Default::default()
        }),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-signature", header.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().unwrap());
    request
}

#[tokio::test]
async fn nul_and_control_characters_are_refused_naming_the_field() {
    // With the webhook secret, so a notification can be validly signed.
    let app = snackbar::spawn(|_| {}).await;
    let admin = app.admin_token().await;
    let mut identity = app.identity().await;

    // Public RPCs, no token.
    let login = identity
        .login(LoginRequest {
            username: "ana\u{0}".into(),
            password: "whatever".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&login), ["username"]);
    let register = identity
        .register_customer(RegisterCustomerRequest {
            cpf: "52998224725".into(),
            name: "Ana\u{0}".into(),
            email: "ana@example.com\u{1b}[31m".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&register), ["name", "email"]);
    let service_token = identity
        .issue_service_token(IssueServiceTokenRequest {
            client_id: "sa-orders\u{0}".into(),
            client_secret: "secret\u{0}".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&service_token),
        ["client_id", "client_secret"]
    );

    // A validly signed notification: without the NUL the signature holds
    // and the payment is merely unknown; with it, the field is named.
    let mut payments = PaymentsServiceClient::new(app.channel().await);
    let unknown = payments
        .handle_notification(signed_notification("NOSUCHPAYMENT", "nul-0"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let notified = payments
        .handle_notification(signed_notification("NOSUCH\u{0}PAYMENT", "nul-1"))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&notified), ["notification.data.id"]);
    let too_long = identity
        .login(LoginRequest {
            username: "a".repeat(1_001),
            password: "whatever".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&too_long), ["username"]);
    assert!(too_long.message().contains("username"), "{too_long:?}");

    // Nested and repeated fields are named by their path.
    let mut projects = ProjectsServiceClient::new(app.channel().await);
    let nested = projects
        .create_project(authed(
            CreateProjectRequest {
                project: Some(Project {
                    name: "Line\nbreak".into(),
                    // Free text may span lines.
                    description: "first line\nsecond line\ttabbed".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&nested), ["project.name"]);

    // A page token that decodes to three NUL bytes.
    let page = InventoryServiceClient::new(app.channel().await)
        .list_products(authed(
            ListProductsRequest {
                page_size: 10,
                page_token: "AAAA".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&page), ["page_token"]);
}

#[tokio::test]
async fn timestamps_outside_the_protobuf_range_are_refused_and_a_stored_one_breaks_no_list() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut projects = ProjectsServiceClient::new(app.channel().await);
    let create = |seconds: i64, nanos: i32| CreateProjectRequest {
        project: Some(Project {
            name: "Kitchen".into(),
            due_time: Some(prost_types::Timestamp { seconds, nanos }),
            materials: vec![Material {
                product_id: "01900000-0000-7000-8000-00000000000a".into(),
                product_name: "MDF 15 mm".into(),
                quantity: 1,
            }],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    // Year 10000, before year 1, before 4714 BC (once INTERNAL), bad nanos.
    for (seconds, nanos) in [
        (253_402_300_800, 0),
        (-62_135_596_801, 0),
        (-210_866_803_201, 0),
        (0, 1_000_000_000),
    ] {
        let refused = projects
            .create_project(authed(create(seconds, nanos), &admin))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), ["project.due_time"], "{seconds}");
    }
    projects
        .create_project(authed(create(253_402_300_799, 0), &admin))
        .await
        .expect("9999-12-31T23:59:59Z is the last second allowed");

    // A row stored before requests were checked.
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO projects.projects (id, name, status, due_time)
         VALUES ('01900000-0000-7000-8000-000000000001', 'From the past', 'planned',
                 '10000-01-01T00:00:00Z')",
    )
    .execute(&db)
    .await
    .unwrap();

    let edge = app.edge().await;
    let listed = edge.get("/v1/projects", Some(&admin)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let projects = listed.json["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2, "{listed:?}");
    let stored = projects
        .iter()
        .find(|p| p["name"] == "From the past")
        .unwrap();
    assert!(stored.get("dueTime").is_none(), "left out: {stored}");
    edge.stop().await;
}
