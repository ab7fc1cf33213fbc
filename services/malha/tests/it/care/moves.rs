//! TransitionRequest and ListRequestHistory: the workflow as the domain rule
//! decides it, who may move what, what each move needs, the history with
//! who/when/why, and the events each change puts in the outbox.

use tonic::Code;

use super::*;
use crate::helpers::{TestApp, authed, violated_fields};

async fn history(care: &mut Client, token: &str, id: &str) -> Vec<StatusChange> {
    care.list_request_history(authed(
        ListRequestHistoryRequest {
            care_request_id: id.into(),
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .changes
}

#[tokio::test]
async fn pharmacy_staff_carry_a_request_to_completion_and_the_history_says_who_and_why() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let gaze = material(&app, &staff.admin, "Gaze estéril").await;
    let mut care = client(&app).await;
    let request = create(
        &mut care,
        &staff.nurse,
        asking(RequestKind::Material, "UTI 2", &[(&gaze, 4)]),
    )
    .await
    .unwrap();
    let cabinet = uuid::Uuid::now_v7().to_string();

    let status = transition(
        &mut care,
        &staff.pharmacist,
        &request.id,
        RequestStatus::InProgress,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "steps are not skipped"
    );
    transition(
        &mut care,
        &staff.pharmacist,
        &request.id,
        RequestStatus::Accepted,
        "on it",
        "",
    )
    .await
    .unwrap();
    transition(
        &mut care,
        &staff.pharmacist,
        &request.id,
        RequestStatus::InProgress,
        "",
        "",
    )
    .await
    .unwrap();
    let status = transition(
        &mut care,
        &staff.pharmacist,
        &request.id,
        RequestStatus::Completed,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["dispenser_id"],
        "a delivery names its cabinet"
    );
    let done = transition(
        &mut care,
        &staff.pharmacist,
        &request.id,
        RequestStatus::Completed,
        "delivered to bed 1",
        &cabinet,
    )
    .await
    .unwrap();
    assert_eq!(done.status, RequestStatus::Completed as i32);
    assert_eq!(done.dispenser_id, cabinet);
    let status = transition(
        &mut care,
        &staff.admin,
        &request.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "nothing leaves a final status"
    );

    // The cabinet does not exist, so the pharmacy's consumer refuses the
    // delivery and the history gains a fifth entry: wait for it.
    let mut changes = history(&mut care, &staff.nurse, &request.id).await;
    let waited = std::time::Instant::now();
    while changes.len() < 5 && waited.elapsed() < std::time::Duration::from_secs(20) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        changes = history(&mut care, &staff.nurse, &request.id).await;
    }
    let refusal = format!("pharmacy refused the delivery: no dispenser {cabinet}");
    let moves: Vec<_> = changes
        .iter()
        .map(|c| (c.from, c.to, c.reason.as_str()))
        .collect();
    use RequestStatus::*;
    assert_eq!(
        moves,
        [
            (Unspecified as i32, Requested as i32, ""),
            (Requested as i32, Accepted as i32, "on it"),
            (Accepted as i32, InProgress as i32, ""),
            (InProgress as i32, Completed as i32, "delivered to bed 1"),
            (Completed as i32, Completed as i32, refusal.as_str()),
        ]
    );
    assert!(changes[1].actor.starts_with("user:") && changes[1].actor != changes[0].actor);
    let seconds: Vec<_> = changes.iter().map(|c| c.time.unwrap().seconds).collect();
    assert!(seconds.is_sorted(), "oldest first: {seconds:?}");

    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let subjects: Vec<String> =
        sqlx::query_scalar("SELECT subject FROM care.outbox ORDER BY created_at, subject")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        subjects,
        [
            "care.request.created",
            "care.request.status_changed",
            "care.request.status_changed",
            "care.request.completed",
            "care.request.status_changed",
        ]
    );
}

#[tokio::test]
async fn only_the_requester_cancels_before_acceptance_and_a_rejection_needs_a_reason() {
    let app = TestApp::spawn().await;
    let staff = Staff::hire(&app).await;
    let mut care = client(&app).await;
    let assistance = || asking(RequestKind::Assistance, "UTI 2", &[]);
    let first = create(&mut care, &staff.nurse, assistance()).await.unwrap();
    let second = create(&mut care, &staff.nurse, assistance()).await.unwrap();

    for token in [&staff.other_nurse, &staff.pharmacist] {
        let status = transition(
            &mut care,
            token,
            &first.id,
            RequestStatus::Cancelled,
            "",
            "",
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let status = transition(
        &mut care,
        &staff.nurse,
        &first.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "nurses do not fulfil"
    );
    let status = transition(
        &mut care,
        &staff.employee,
        &first.id,
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let cancelled = transition(
        &mut care,
        &staff.nurse,
        &first.id,
        RequestStatus::Cancelled,
        "patient discharged",
        "",
    )
    .await
    .unwrap();
    assert_eq!(cancelled.status, RequestStatus::Cancelled as i32);

    let status = transition(
        &mut care,
        &staff.pharmacist,
        &second.id,
        RequestStatus::Rejected,
        "  ",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&status), ["reason"]);
    let rejected = transition(
        &mut care,
        &staff.pharmacist,
        &second.id,
        RequestStatus::Rejected,
        "no staff free",
        "",
    )
    .await
    .unwrap();
    assert_eq!(rejected.reject_reason, "no staff free");
    let status = transition(
        &mut care,
        &staff.nurse,
        &second.id,
        RequestStatus::Cancelled,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    let status = transition(
        &mut care,
        &staff.pharmacist,
        &uuid::Uuid::now_v7().to_string(),
        RequestStatus::Accepted,
        "",
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = transition(
        &mut care,
        &staff.pharmacist,
        "x",
        RequestStatus::Unspecified,
        "",
        "y",
    )
    .await
    .unwrap_err();
    assert_eq!(
        violated_fields(&status),
        ["care_request_id", "to", "dispenser_id"]
    );
    let status = care
        .list_request_history(authed(
            ListRequestHistoryRequest {
                care_request_id: uuid::Uuid::now_v7().to_string(),
            },
            &staff.employee,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}
