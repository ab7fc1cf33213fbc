//! Tickets: daily codes unique under concurrent totems, people ahead,
//! CallNext by the fairness rule, two desks calling at once, the moves of an
//! attendance and who may make them.

use std::collections::HashSet;
use std::time::Duration;

use tonic::Code;

use super::*;
use crate::helpers::{eventually, violated_fields};

/// A unit with one service (letter A) and two desks serving it.
pub(super) struct Clinic {
    pub(super) unit: Unit,
    pub(super) service: Service,
    pub(super) desks: [Desk; 2],
}

pub(super) async fn clinic(client: &mut Client, admin: &str) -> Clinic {
    let unit = create_unit(client, admin, "Clínica Centro").await;
    let service = create_service(client, admin, &unit.id, "Clínica geral", "A")
        .await
        .unwrap();
    let first = create_desk(client, admin, &unit.id, "Guichê 1", &[&service.id])
        .await
        .unwrap();
    let second = create_desk(client, admin, &unit.id, "Guichê 2", &[&service.id])
        .await
        .unwrap();
    Clinic {
        unit,
        service,
        desks: [first, second],
    }
}

pub(super) async fn issue(
    client: &mut Client,
    token: &str,
    clinic: &Clinic,
    priority: Priority,
) -> IssueTicketResponse {
    client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: clinic.unit.id.clone(),
                service_id: clinic.service.id.clone(),
                priority: priority.into(),
                request_id: String::new(),
            },
            token,
        ))
        .await
        .expect("issue ticket")
        .into_inner()
}

pub(super) async fn call_next(client: &mut Client, token: &str, desk: &Desk) -> Option<Ticket> {
    client
        .call_next(authed(
            CallNextRequest {
                desk_id: desk.id.clone(),
            },
            token,
        ))
        .await
        .expect("call next")
        .into_inner()
        .ticket
}

#[tokio::test]
async fn codes_count_up_per_service_and_people_ahead_follow_priority() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;

    let first = issue(&mut client, &admin, &clinic, Priority::Normal).await;
    let ticket = first.ticket.unwrap();
    assert_eq!(ticket.code, "A001");
    assert_eq!(ticket.status(), TicketStatus::Waiting);
    assert_eq!(first.people_ahead, 0);
    let second = issue(&mut client, &admin, &clinic, Priority::Normal).await;
    assert_eq!(second.ticket.unwrap().code, "A002");
    assert_eq!(second.people_ahead, 1);
    let elderly = issue(&mut client, &admin, &clinic, Priority::Aged60Plus).await;
    assert_eq!(elderly.ticket.unwrap().code, "A003");
    assert_eq!(elderly.people_ahead, 0, "preferential goes ahead of normal");
    let very_old = issue(&mut client, &admin, &clinic, Priority::Aged80Plus).await;
    assert_eq!(very_old.people_ahead, 0, "80+ ahead of the other elderly");
    let normal = issue(&mut client, &admin, &clinic, Priority::Normal).await;
    assert_eq!(normal.people_ahead, 4);

    // Another service of the unit has its own sequence.
    let exams = create_service(&mut client, &admin, &clinic.unit.id, "Exames", "E")
        .await
        .unwrap();
    let exam = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: clinic.unit.id.clone(),
                service_id: exams.id.clone(),
                priority: Priority::Pregnant.into(),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exam.ticket.unwrap().code, "E001");
}

#[tokio::test]
async fn issuing_validates_names_the_fields_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;

    let invalid = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: "nope".into(),
                service_id: String::new(),
                priority: 0,
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&invalid),
        ["unit_id", "service_id", "priority"]
    );

    let elsewhere = create_unit(&mut client, &admin, "Outra").await;
    let wrong_unit = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: elsewhere.id.clone(),
                service_id: clinic.service.id.clone(),
                priority: Priority::Normal.into(),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong_unit.code(), Code::NotFound, "{wrong_unit:?}");

    let request = IssueTicketRequest {
        cpf: String::new(),
        unit_id: clinic.unit.id.clone(),
        service_id: clinic.service.id.clone(),
        priority: Priority::Normal.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let first = client
        .issue_ticket(authed(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .issue_ticket(authed(request, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the retry gets the same ticket");
    let next = issue(&mut client, &admin, &clinic, Priority::Normal).await;
    assert_eq!(
        next.ticket.unwrap().code,
        "A002",
        "the retry used no number"
    );
}

// Several worker threads, so the requests really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_totems_at_once_never_get_the_same_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;

    let mut totems = Vec::new();
    for _ in 0..20 {
        let mut client = client.clone();
        let admin = admin.clone();
        let request = IssueTicketRequest {
            cpf: String::new(),
            unit_id: clinic.unit.id.clone(),
            service_id: clinic.service.id.clone(),
            priority: Priority::Normal.into(),
            request_id: String::new(),
        };
        totems.push(tokio::spawn(async move {
            client
                .issue_ticket(authed(request, &admin))
                .await
                .unwrap()
                .into_inner()
                .ticket
                .unwrap()
                .code
        }));
    }
    let mut codes = HashSet::new();
    for totem in totems {
        codes.insert(totem.await.unwrap());
    }
    let expected: HashSet<String> = (1..=20).map(|n| format!("A{n:03}")).collect();
    assert_eq!(codes, expected, "20 distinct codes, none skipped");
}

#[tokio::test]
async fn call_next_lets_a_normal_ticket_through_after_two_preferential_ones() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    for priority in [
        Priority::Normal,
        Priority::Normal,
        Priority::Pregnant,
        Priority::Disability,
        Priority::Aged60Plus,
        Priority::Aged80Plus,
    ] {
        issue(&mut client, &admin, &clinic, priority).await;
    }

    let desk = &clinic.desks[0];
    let mut called = Vec::new();
    while let Some(ticket) = call_next(&mut client, &admin, desk).await {
        assert_eq!(ticket.status(), TicketStatus::Called);
        assert_eq!(ticket.desk_id, desk.id);
        assert!(ticket.call_time.is_some());
        called.push(ticket.code);
    }
    // A006 is 80+: first of the preferential ones; then arrival order, with
    // a normal ticket after every two preferential calls.
    assert_eq!(called, ["A006", "A003", "A001", "A004", "A005", "A002"]);
}

// Several worker threads, so the requests really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_desks_calling_at_the_same_instant_never_get_the_same_ticket() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    for _ in 0..30 {
        issue(&mut client, &admin, &clinic, Priority::Normal).await;
    }

    let mut desks = Vec::new();
    for desk in clinic.desks.clone() {
        let mut client = client.clone();
        let admin = admin.clone();
        desks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            while let Some(ticket) = call_next(&mut client, &admin, &desk).await {
                codes.push(ticket.code);
            }
            codes
        }));
    }
    let mut all = Vec::new();
    for desk in desks {
        all.extend(desk.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 30, "every ticket called once: {all:?}");
    assert_eq!(distinct.len(), 30, "no ticket called twice: {all:?}");
}

#[tokio::test]
async fn an_attendance_moves_forward_only_and_illegal_moves_are_failed_preconditions() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    let issued = issue(&mut client, &admin, &clinic, Priority::Normal)
        .await
        .ticket
        .unwrap();
    let id = || issued.id.clone();

    let early = client
        .start_attendance(authed(StartAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition, "not called yet");

    let called = call_next(&mut client, &admin, &clinic.desks[0])
        .await
        .unwrap();
    assert_eq!(called.id, issued.id);
    let recalled = client
        .recall_ticket(authed(RecallTicketRequest { ticket_id: id() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(recalled.status(), TicketStatus::Called);
    let started = client
        .start_attendance(authed(StartAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(started.status(), TicketStatus::InAttendance);
    assert!(started.start_time.is_some());
    let cancel = client
        .cancel_ticket(authed(CancelTicketRequest { ticket_id: id() }, &admin))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::FailedPrecondition, "already attended");
    let finished = client
        .finish_attendance(authed(FinishAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(finished.status(), TicketStatus::Finished);
    assert!(finished.finish_time.is_some());
    let again = client
        .mark_no_show(authed(MarkNoShowRequest { ticket_id: id() }, &admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // A called patient who never comes; a waiting one who leaves.
    issue(&mut client, &admin, &clinic, Priority::Normal).await;
    let absent = call_next(&mut client, &admin, &clinic.desks[1])
        .await
        .unwrap();
    let no_show = client
        .mark_no_show(authed(
            MarkNoShowRequest {
                ticket_id: absent.id,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(no_show.status(), TicketStatus::NoShow);
    let leaving = issue(&mut client, &admin, &clinic, Priority::Normal)
        .await
        .ticket
        .unwrap();
    let cancelled = client
        .cancel_ticket(authed(
            CancelTicketRequest {
                ticket_id: leaving.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    assert_eq!(cancelled.status(), TicketStatus::Cancelled);
    assert!(
        call_next(&mut client, &admin, &clinic.desks[0])
            .await
            .is_none(),
        "a cancelled ticket is not called"
    );
    let unknown = client
        .get_ticket(authed(
            GetTicketRequest {
                ticket_id: uuid::Uuid::now_v7().to_string(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn staff_issue_and_call_but_customers_may_not() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let employee = app.employee_token(&admin, "recepcao").await;
    let customer = app.customer_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;

    let issued = issue(&mut client, &employee, &clinic, Priority::Normal).await;
    let called = call_next(&mut client, &employee, &clinic.desks[0])
        .await
        .unwrap();
    assert_eq!(called.id, issued.ticket.unwrap().id);

    let refused = client
        .issue_ticket(authed(
            IssueTicketRequest {
                cpf: String::new(),
                unit_id: clinic.unit.id.clone(),
                service_id: clinic.service.id.clone(),
                priority: Priority::Normal.into(),
                request_id: String::new(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = client
        .call_next(authed(
            CallNextRequest {
                desk_id: clinic.desks[0].id.clone(),
            },
            &customer,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn the_journey_records_each_step_with_its_desk_and_stats_count_today() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    let ticket = issue(&mut client, &admin, &clinic, Priority::Normal)
        .await
        .ticket
        .unwrap();
    issue(&mut client, &admin, &clinic, Priority::Normal).await;
    issue(&mut client, &admin, &clinic, Priority::Nursing).await;
    let desk = &clinic.desks[1];

    // The nursing mother is called first; then the first normal ticket.
    let nursing = call_next(&mut client, &admin, desk).await.unwrap();
    assert_eq!(nursing.code, "A003");
    let called = call_next(&mut client, &admin, desk).await.unwrap();
    assert_eq!(called.id, ticket.id);
    let id = || ticket.id.clone();
    client
        .recall_ticket(authed(RecallTicketRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();
    client
        .start_attendance(authed(StartAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();
    client
        .finish_attendance(authed(FinishAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();

    let journey = client
        .get_ticket_journey(authed(GetTicketJourneyRequest { ticket_id: id() }, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(journey.ticket.unwrap().status(), TicketStatus::Finished);
    let kinds: Vec<_> = journey.steps.iter().map(JourneyStep::kind).collect();
    assert_eq!(
        kinds,
        [
            StepKind::Issued,
            StepKind::Called,
            StepKind::Recalled,
            StepKind::Started,
            StepKind::Finished
        ]
    );
    assert!(journey.steps[0].desk_id.is_empty());
    for step in &journey.steps[1..] {
        assert_eq!(step.desk_name, "Guichê 2");
        assert!(step.staff.starts_with("user:"), "{}", step.staff);
    }

    let stats = client
        .get_queue_stats(authed(
            GetQueueStatsRequest {
                unit_id: clinic.unit.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.local_date.len(), 10, "{}", stats.local_date);
    assert_eq!(stats.services.len(), 1);
    let general = &stats.services[0];
    assert_eq!(general.letter, "A");
    assert_eq!((general.waiting, general.called), (1, 2));
    assert!(general.average_wait_seconds > 0.0);
    assert!(general.average_attendance_seconds > 0.0);
}

#[tokio::test]
async fn issuing_calling_and_finishing_publish_their_events_through_the_outbox() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut client = client(&app).await;
    let clinic = clinic(&mut client, &admin).await;
    let ticket = issue(&mut client, &admin, &clinic, Priority::Normal)
        .await
        .ticket
        .unwrap();
    call_next(&mut client, &admin, &clinic.desks[0])
        .await
        .unwrap();
    let id = || ticket.id.clone();
    client
        .recall_ticket(authed(RecallTicketRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();
    client
        .start_attendance(authed(StartAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();
    client
        .finish_attendance(authed(FinishAttendanceRequest { ticket_id: id() }, &admin))
        .await
        .unwrap();

    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let subjects: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM queue.outbox ORDER BY created_at, id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(
        subjects,
        [
            "queue.ticket.issued",
            "queue.ticket.called",
            "queue.ticket.called",
            "queue.attendance.finished"
        ]
    );
    // The relay hands every one of them to NATS.
    eventually("the outbox relayed", Duration::from_secs(10), || async {
        let unpublished: i64 =
            sqlx::query_scalar("SELECT count(*) FROM queue.outbox WHERE published_at IS NULL")
                .fetch_one(&db)
                .await
                .unwrap();
        (unpublished == 0).then_some(())
    })
    .await;
}
