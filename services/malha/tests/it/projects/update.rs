//! UpdateProject: the kit's field-mask rules, the status machine and the
//! schedule rule; a stored status this build does not know.

use prost_types::Timestamp;
use tonic::Code;
use tonic::transport::Channel;

use crate::helpers::{
    TestApp, assert_internal_incident, assert_listed_without, authed, mask,
    store_status_from_the_future, stored_status, violations,
};
use malha_api::malha::projects::v1::projects_service_client::ProjectsServiceClient;
use malha_api::malha::projects::v1::*;

type Client = ProjectsServiceClient<Channel>;

async fn project(projects: &mut Client, admin: &str) -> Project {
    projects
        .create_project(authed(
            CreateProjectRequest {
                project: Some(Project {
                    name: "Cozinha planejada".into(),
                    description: "armários e bancada".into(),
                    client: "Dona Maria".into(),
                    start_time: Some(Timestamp {
                        seconds: 1_800_000_000,
                        nanos: 0,
                    }),
                    materials: vec![Material {
                        product_id: uuid::Uuid::now_v7().to_string(),
                        product_name: "MDF 15mm".into(),
                        quantity: 2,
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .project
        .unwrap()
}

#[tokio::test]
async fn update_project_follows_the_field_mask_rules() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut projects = Client::new(app.channel().await);
    let created = project(&mut projects, &admin).await;
    let mut update = async |project: Project, update_mask| {
        projects
            .update_project(authed(
                UpdateProjectRequest {
                    project: Some(project),
                    update_mask,
                },
                &admin,
            ))
            .await
            .map(|r| r.into_inner().project.unwrap())
    };
    let id = || Project {
        id: created.id.clone(),
        ..Default::default()
    };

    let refused = update(
        id(),
        mask(&["owner", "materials", "start_time.seconds", "update_time"]),
    )
    .await
    .unwrap_err();
    let described: Vec<_> = violations(&refused).into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        described,
        [
            "\"owner\" is not a field of Project",
            "\"materials\" cannot be updated; materials are fixed once the project is created: their stock was subtracted",
            "\"start_time.seconds\" is inside \"start_time\", which is replaced whole; name \"start_time\"",
            "\"update_time\" cannot be updated",
        ]
    );

    // An empty mask: the client and status change, the rest stays.
    let started = update(
        Project {
            client: "Seu João".into(),
            status: ProjectStatus::InProgress as i32,
            ..id()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            started.name.as_str(),
            started.client.as_str(),
            started.description.as_str()
        ),
        ("Cozinha planejada", "Seu João", "armários e bancada")
    );
    assert_eq!(started.status, ProjectStatus::InProgress as i32);
    assert_eq!(started.start_time, created.start_time);

    // The schedule rule holds against the stored start time.
    let early = update(
        Project {
            due_time: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..id()
        },
        mask(&["due_time"]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        violations(&early),
        [(
            "project.due_time".into(),
            "must not be before start_time".into()
        )]
    );

    // `*` replaces every updatable field: description, client and times
    // left unset are cleared; the status must still be a legal move.
    let replaced = update(
        Project {
            name: "Cozinha e sala".into(),
            status: ProjectStatus::InProgress as i32,
            ..id()
        },
        mask(&["*"]),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            replaced.name.as_str(),
            replaced.description.as_str(),
            replaced.client.as_str()
        ),
        ("Cozinha e sala", "", "")
    );
    assert_eq!((replaced.start_time, replaced.materials.len()), (None, 1));

    let backwards = update(
        Project {
            status: ProjectStatus::Planned as i32,
            ..id()
        },
        mask(&["status"]),
    )
    .await
    .unwrap_err();
    assert_eq!(backwards.code(), Code::FailedPrecondition);
    assert_eq!(
        backwards.message(),
        "a in_progress project cannot become planned"
    );

    let nothing = update(id(), mask(&[])).await.unwrap_err();
    assert_eq!(violations(&nothing)[0].0, "update_mask");
}

/// In a rolling deploy a newer version may store a status this one does
/// not know: reading it is an INTERNAL error with an incident id, never an
/// older status, and a list still answers without it.
#[tokio::test]
async fn an_unknown_stored_status_is_an_error_not_a_default() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut projects = Client::new(app.channel().await);
    let kept = project(&mut projects, &admin).await;
    let newer = project(&mut projects, &admin).await;
    let db = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    store_status_from_the_future(&db, "projects.projects", &newer.id, "archived").await;

    let read = projects
        .get_project(authed(
            GetProjectRequest {
                project_id: newer.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&read, "archived");

    // Updating it must not move it as if it were PLANNED.
    let moved = projects
        .update_project(authed(
            UpdateProjectRequest {
                project: Some(Project {
                    id: newer.id.clone(),
                    status: ProjectStatus::Cancelled as i32,
                    ..Default::default()
                }),
                update_mask: mask(&["status"]),
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_internal_incident(&moved, "archived");
    assert_eq!(
        stored_status(&db, "projects.projects", &newer.id).await,
        "archived"
    );

    let listed = projects
        .list_projects(authed(
            ListProjectsRequest {
                page_size: 100,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .projects;
    let ids: Vec<_> = listed.iter().map(|p| p.id.as_str()).collect();
    assert_listed_without(&ids, &kept.id, &newer.id);
}
