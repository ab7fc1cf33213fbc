//! The clinic's pages through the edge (the panel and the totem, embedded in
//! the binary), and the totem's credential: a `totem` service account that
//! issues tickets and can do nothing else, kept by `malha up` between runs.

use tonic::Code;

use super::tickets::clinic;
use super::*;
use malha::cli::seed::{DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME};
use malha_api::identity::IssueServiceTokenRequest;

#[tokio::test]
async fn the_edge_serves_the_panel_and_totem_pages_and_their_assets() {
    let app = TestApp::spawn().await;
    let edge = app.edge().await;
    let http = reqwest::Client::new();
    let unit = uuid::Uuid::now_v7();

    for (path, content_type, contains) in [
        (
            format!("/panel/{unit}"),
            "text/html",
            "/assets/queue/panel.js",
        ),
        (
            format!("/totem/{unit}"),
            "text/html",
            "/assets/queue/totem.js",
        ),
        (
            "/assets/queue/panel.js".to_owned(),
            "text/javascript",
            "panel:watch",
        ),
        (
            "/assets/queue/totem.js".to_owned(),
            "text/javascript",
            "token:client-credentials",
        ),
        ("/assets/queue/queue.css".to_owned(), "text/css", ".current"),
    ] {
        let response = http
            .get(format!("{}{path}", edge.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}: {headers:?}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(contains), "{path} holds {contains}");
    }
    for missing in ["/assets/queue/nope.js", "/assets/nobody/panel.js", "/panel"] {
        let response = http
            .get(format!("{}{missing}", edge.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
    // The contract's routes are still the edge's.
    assert_eq!(edge.get("/openapi.json", None).await.status, 200);
    edge.stop().await;
}

#[tokio::test]
async fn a_totem_account_issues_tickets_and_calls_none() {
    let app = TestApp::spawn().await;
    // The seed signs in as the demo administrator.
    malha::cli::seed::demo(&app.url).await.unwrap();
    let admin = super::seed::login(&app, DEMO_ADMIN_USERNAME, DEMO_ADMIN_PASSWORD).await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("demo-totem.json");

    let account = malha::cli::seed::demo_totem(&app.url, &saved)
        .await
        .unwrap();
    let again = malha::cli::seed::demo_totem(&app.url, &saved)
        .await
        .unwrap();
    assert_eq!(
        again.client_id, account.client_id,
        "a saved account is reused"
    );
    assert!(
        account
            .setup_link("http://localhost:8080", &clinic.unit.id)
            .ends_with(&format!(
                "/totem/{}#client_id={}&client_secret={}",
                clinic.unit.id, account.client_id, account.client_secret
            ))
    );

    let token = app
        .identity()
        .await
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id.clone(),
            client_secret: account.client_secret.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let issued = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: clinic.unit.id.clone(),
                service_id: clinic.service.id.clone(),
                priority: Priority::Pregnant.into(),
                request_id: uuid::Uuid::new_v4().to_string(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issued.ticket.unwrap().code, "A001");
    let refused = client
        .call_next(authed(
            CallNextRequest {
                desk_id: clinic.desks[0].id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // A lost or refused saved account is replaced.
    std::fs::write(&saved, r#"{"client_id":"gone","client_secret":"x"}"#).unwrap();
    let replaced = malha::cli::seed::demo_totem(&app.url, &saved)
        .await
        .unwrap();
    assert_ne!(replaced.client_id, account.client_id);
}
