//! Patient routes (triage → exams with the same code, by original arrival
//! or to the front, the whole journey readable) and the CPF a ticket may
//! carry: checked, whole for clinic staff, masked for totems and services.

use tonic::Code;

use super::tickets::call_next;
use super::*;
use crate::helpers::violated_fields;
use malha_api::identity::{CreateServiceAccountRequest, IssueServiceTokenRequest};

/// A unit with triage (T) and exams (E), a desk for each.
struct Clinic {
    unit: Unit,
    triage: Service,
    exams: Service,
    triage_desk: Desk,
    exams_desk: Desk,
}

async fn clinic(client: &mut Client, admin: &str) -> Clinic {
    let unit = create_unit(client, admin, "Clínica Rota").await;
    let triage = create_service(client, admin, &unit.id, "Triagem", "T")
        .await
        .unwrap();
    let exams = create_service(client, admin, &unit.id, "Exames", "E")
        .await
        .unwrap();
    let triage_desk = create_desk(client, admin, &unit.id, "Triagem 1", &[&triage.id])
        .await
        .unwrap();
    let exams_desk = create_desk(client, admin, &unit.id, "Sala de exames", &[&exams.id])
        .await
        .unwrap();
    Clinic {
        unit,
        triage,
        exams,
        triage_desk,
        exams_desk,
    }
}

async fn issue(
    client: &mut Client,
    token: &str,
    unit: &Unit,
    service: &Service,
    cpf: &str,
) -> Result<Ticket, tonic::Status> {
    Ok(client
        .issue_ticket(authed(
            IssueTicketRequest {
                unit_id: unit.id.clone(),
                service_id: service.id.clone(),
                priority: Priority::Normal.into(),
                request_id: String::new(),
                cpf: cpf.into(),
            },
            token,
        ))
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

/// Calls, starts and finishes the next ticket at `desk`.
async fn attend(client: &mut Client, token: &str, desk: &Desk) -> Ticket {
    let ticket = call_next(client, token, desk).await.expect("someone waits");
    client
        .start_attendance(authed(
            StartAttendanceRequest {
                ticket_id: ticket.id.clone(),
            },
            token,
        ))
        .await
        .unwrap();
    client
        .finish_attendance(authed(
            FinishAttendanceRequest {
                ticket_id: ticket.id.clone(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

async fn route(
    client: &mut Client,
    token: &str,
    ticket: &Ticket,
    to: &Service,
    to_front: bool,
    request_id: &str,
) -> Result<Ticket, tonic::Status> {
    Ok(client
        .route_ticket(authed(
            RouteTicketRequest {
                ticket_id: ticket.id.clone(),
                to_service_id: to.id.clone(),
                to_front,
                request_id: request_id.into(),
            },
            token,
        ))
        .await?
        .into_inner()
        .ticket
        .unwrap())
}

#[tokio::test]
async fn a_routed_patient_keeps_the_code_and_waits_by_original_arrival_unless_sent_to_the_front() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let c = clinic(&mut client, &admin).await;

    // T001 arrives at triage before E001 arrives at exams.
    let t001 = issue(&mut client, &admin, &c.unit, &c.triage, "")
        .await
        .unwrap();
    let t002 = issue(&mut client, &admin, &c.unit, &c.triage, "")
        .await
        .unwrap();
    issue(&mut client, &admin, &c.unit, &c.exams, "")
        .await
        .unwrap();
    issue(&mut client, &admin, &c.unit, &c.exams, "")
        .await
        .unwrap();

    let finished = attend(&mut client, &admin, &c.triage_desk).await;
    assert_eq!(finished.id, t001.id);
    let key = uuid::Uuid::new_v4().to_string();
    let routed = route(&mut client, &admin, &finished, &c.exams, false, &key)
        .await
        .unwrap();
    assert_eq!(routed.code, "T001", "the patient keeps the code");
    assert_eq!(routed.service_id, c.exams.id);
    assert_eq!(routed.parent_ticket_id, t001.id);
    assert_eq!(routed.status(), TicketStatus::Waiting);
    assert!(!routed.to_front);
    let again = route(&mut client, &admin, &finished, &c.exams, false, &key)
        .await
        .unwrap();
    assert_eq!(again.id, routed.id, "a retry returns the first route");
    let twice = route(&mut client, &admin, &finished, &c.exams, false, "")
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    // By original arrival: the routed T001 is called before E001.
    let first = call_next(&mut client, &admin, &c.exams_desk).await.unwrap();
    assert_eq!(
        (first.id.as_str(), first.code.as_str()),
        (routed.id.as_str(), "T001")
    );

    // To the front: T002, routed after E001 and E002 arrived, goes first.
    let t002_done = attend(&mut client, &admin, &c.triage_desk).await;
    assert_eq!(t002_done.id, t002.id);
    let fronted = route(&mut client, &admin, &t002_done, &c.exams, true, "")
        .await
        .unwrap();
    assert!(fronted.to_front);
    let called: Vec<String> = [
        call_next(&mut client, &admin, &c.exams_desk).await.unwrap(),
        call_next(&mut client, &admin, &c.exams_desk).await.unwrap(),
        call_next(&mut client, &admin, &c.exams_desk).await.unwrap(),
    ]
    .into_iter()
    .map(|t| t.code)
    .collect();
    assert_eq!(called, ["T002", "E001", "E002"]);

    // The journey, read from either ticket, is the whole route.
    for id in [&t001.id, &routed.id] {
        let journey = client
            .get_ticket_journey(authed(
                GetTicketJourneyRequest {
                    ticket_id: id.clone(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&journey.ticket.unwrap().id, id);
        let route: Vec<_> = journey.route.iter().map(|t| t.id.clone()).collect();
        assert_eq!(route, [t001.id.clone(), routed.id.clone()]);
        let steps: Vec<_> = journey
            .steps
            .iter()
            .map(|s| (s.kind(), s.ticket_id == t001.id))
            .collect();
        assert_eq!(
            steps,
            [
                (StepKind::Issued, true),
                (StepKind::Called, true),
                (StepKind::Started, true),
                (StepKind::Finished, true),
                (StepKind::Routed, true),
                (StepKind::Issued, false),
                (StepKind::Called, false),
            ]
        );
    }
}

#[tokio::test]
async fn routing_refuses_bad_fields_unfinished_tickets_and_other_units_services() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let c = clinic(&mut client, &admin).await;
    let waiting = issue(&mut client, &admin, &c.unit, &c.triage, "")
        .await
        .unwrap();

    let bad = client
        .route_ticket(authed(
            RouteTicketRequest {
                ticket_id: "x".into(),
                to_service_id: String::new(),
                to_front: false,
                request_id: "nope".into(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        ["ticket_id", "to_service_id", "request_id"]
    );

    let unfinished = route(&mut client, &admin, &waiting, &c.exams, false, "")
        .await
        .unwrap_err();
    assert_eq!(unfinished.code(), Code::FailedPrecondition);

    let other_unit = create_unit(&mut client, &admin, "Outra clínica").await;
    let elsewhere = create_service(&mut client, &admin, &other_unit.id, "Exames", "E")
        .await
        .unwrap();
    let finished = attend(&mut client, &admin, &c.triage_desk).await;
    let refused = route(&mut client, &admin, &finished, &elsewhere, false, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    let customer = app.customer_token().await;
    let denied = route(&mut client, &customer, &finished, &c.exams, false, "")
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

/// A service account's access token with `roles`.
async fn account_token(app: &TestApp, admin: &str, role: &str) -> String {
    let mut identity = app.identity().await;
    let account = identity
        .create_service_account(authed(
            CreateServiceAccountRequest {
                name: format!("{role} {}", uuid::Uuid::now_v7()),
                roles: vec![role.into()],
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    identity
        .issue_service_token(IssueServiceTokenRequest {
            client_id: account.client_id,
            client_secret: account.client_secret,
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

#[tokio::test]
async fn a_cpf_is_checked_and_read_whole_only_by_clinic_staff() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let receptionist = app.employee_token(&admin, "recepcao").await;
    let totem = account_token(&app, &admin, "totem").await;
    let service = account_token(&app, &admin, "service").await;
    let mut client = client(&app).await;
    let c = clinic(&mut client, &admin).await;

    let wrong = issue(&mut client, &totem, &c.unit, &c.triage, "529.982.247-26")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&wrong), ["cpf"]);

    // The totem that took it reads it back masked; staff read it whole.
    let issued = issue(&mut client, &totem, &c.unit, &c.triage, "529.982.247-25")
        .await
        .unwrap();
    assert_eq!(issued.cpf, "***.982.247-**");
    for (token, expected) in [
        (&admin, "52998224725"),
        (&receptionist, "52998224725"),
        (&service, "***.982.247-**"),
        (&totem, "***.982.247-**"),
    ] {
        let read = client
            .get_ticket(authed(
                GetTicketRequest {
                    ticket_id: issued.id.clone(),
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap();
        assert_eq!(read.cpf, expected);
    }

    // A route carries the CPF on; an anonymous ticket has none.
    let finished = attend(&mut client, &receptionist, &c.triage_desk).await;
    assert_eq!(finished.cpf, "52998224725");
    let routed = route(&mut client, &receptionist, &finished, &c.exams, false, "")
        .await
        .unwrap();
    assert_eq!(routed.cpf, "52998224725");
    let anonymous = issue(&mut client, &totem, &c.unit, &c.triage, "")
        .await
        .unwrap();
    assert_eq!(anonymous.cpf, "");
}
