//! The demo clinic `malha up` seeds: a unit with three services and four
//! desks, a receptionist and a doctor who can log in and call tickets, and
//! a second run that creates nothing twice.

use super::*;
use malha::cli::seed::{
    DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, DEMO_CLINIC, DEMO_CLINIC_PASSWORD, DEMO_CLINIC_STAFF,
};
use malha_api::identity::LoginRequest;

#[tokio::test]
async fn the_demo_clinic_is_seeded_once_and_its_staff_can_call_tickets() {
    let app = TestApp::spawn().await;
    malha::cli::seed::demo(&app.url).await.unwrap();
    malha::cli::seed::clinic(&app.url).await.unwrap();
    malha::cli::seed::clinic(&app.url)
        .await
        .expect("a second seed changes nothing");

    let admin = login(&app, DEMO_ADMIN_USERNAME, DEMO_ADMIN_PASSWORD).await;
    let mut client = client(&app).await;
    let units = client
        .list_units(authed(ListUnitsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].name, DEMO_CLINIC);
    let services = client
        .list_services(authed(
            ListServicesRequest {
                unit_id: units[0].id.clone(),
                ..ListServicesRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .services;
    let letters: Vec<_> = services.iter().map(|s| s.letter.as_str()).collect();
    assert_eq!(letters, ["A", "E", "T"]);
    let desks = client
        .list_desks(authed(
            ListDesksRequest {
                unit_id: units[0].id.clone(),
                ..ListDesksRequest::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .desks;
    assert_eq!(desks.len(), 4);

    let mut tokens = Vec::new();
    for (username, _, _) in DEMO_CLINIC_STAFF {
        tokens.push(login(&app, username, DEMO_CLINIC_PASSWORD).await);
    }
    let [receptionist, doctor] = &tokens[..] else {
        panic!("two staff members")
    };
    let issued = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: units[0].id.clone(),
                service_id: services[0].id.clone(),
                priority: Priority::Normal.into(),
                request_id: String::new(),
            },
            receptionist,
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    let room = desks.iter().find(|d| d.name == "Consultório 1").unwrap();
    let called = client
        .call_next(authed(
            CallNextRequest {
                desk_id: room.id.clone(),
            },
            doctor,
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(called.code, issued.code);
}

pub(super) async fn login(app: &TestApp, username: &str, password: &str) -> String {
    app.identity()
        .await
        .login(LoginRequest {
            username: username.into(),
            password: password.into(),
        })
        .await
        .unwrap_or_else(|e| panic!("{username} logs in: {e:?}"))
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}
