//! Creating, updating and deleting projects. Creation publishes
//! `ProjectCreated` through the outbox in the same transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::convert;
use crate::domain::{self, MaterialInput, Status};
use crate::store::{self, Fields, MaterialRow};
use crate::{Projects, SUBJECT_PROJECT_CREATED};
use malha_api::malha::projects::v1::*;
use malha_kit::idempotency::{Claim, Key, Owner};
use malha_kit::validate::Violations;
use malha_kit::{ServiceError, ServiceResult, events, time};

fn check_text(v: &mut Violations, p: &Project) {
    v.text(&p.name, "project.name", 200);
    check_optional_text(v, p);
}

fn check_optional_text(v: &mut Violations, p: &Project) {
    v.check(
        p.description.chars().count() <= 4000,
        "project.description",
        "at most 4000 characters",
    );
    v.check(
        p.client.chars().count() <= 200,
        "project.client",
        "at most 200 characters",
    );
}

fn times(v: &mut Violations, p: &Project) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let start = p.start_time.as_ref().and_then(time::from_proto);
    let due = p.due_time.as_ref().and_then(time::from_proto);
    v.check(
        p.start_time.is_none() || start.is_some(),
        "project.start_time",
        "out of range",
    );
    v.check(
        p.due_time.is_none() || due.is_some(),
        "project.due_time",
        "out of range",
    );
    if let (Some(s), Some(d)) = (start, due) {
        v.check(d >= s, "project.due_time", "must not be before start_time");
    }
    (start, due)
}

pub(super) async fn create(
    projects: &Projects,
    owner: &Owner,
    request: CreateProjectRequest,
    actor: &str,
) -> ServiceResult<CreateProjectResponse> {
    let mut v = Violations::new();
    let Some(p) = request.project.as_ref() else {
        return Err(ServiceError::invalid("project", "required"));
    };
    check_text(&mut v, p);
    let (start_time, due_time) = times(&mut v, p);
    let status = match ProjectStatus::try_from(p.status) {
        Ok(ProjectStatus::Unspecified) => Some(Status::Planned),
        Ok(s) => {
            convert::status_rule(s).filter(|s| matches!(s, Status::Planned | Status::InProgress))
        }
        Err(_) => None,
    };
    v.check(
        status.is_some(),
        "project.status",
        "a new project is PLANNED or IN_PROGRESS",
    );
    let inputs: Vec<MaterialInput<'_>> = p
        .materials
        .iter()
        .map(|m| MaterialInput {
            product_id: &m.product_id,
            product_name: &m.product_name,
            quantity: m.quantity,
        })
        .collect();
    let product_ids = domain::check_materials(&mut v, &inputs);
    let key = Key::new(
        owner,
        "CreateProject",
        v.request_id(&request.request_id),
        &request,
    );
    v.finish()?;

    let fields = Fields {
        name: p.name.trim(),
        description: p.description.trim(),
        client: p.client.trim(),
        status: status.unwrap_or(Status::Planned).as_str(),
        start_time,
        due_time,
    };
    let mut tx = projects.pool.begin().await?;
    // A retry: the first call created it (and published the event).
    if let Claim::Replay(done) = key.claim(&mut tx).await? {
        return Ok(done);
    }
    let id = store::insert(&mut tx, &fields).await?;
    let lines: Vec<MaterialRow> = p
        .materials
        .iter()
        .zip(product_ids)
        .map(|(m, product_id)| MaterialRow {
            project_id: id,
            product_id,
            product_name: m.product_name.trim().to_owned(),
            quantity: m.quantity,
        })
        .collect();
    store::insert_materials(&mut tx, id, &lines).await?;
    let event = ProjectCreated {
        project_id: id.to_string(),
        project_name: fields.name.to_owned(),
        materials: lines.iter().map(convert::material).collect(),
    };
    events::publish(&mut tx, crate::SCHEMA.name, SUBJECT_PROJECT_CREATED, &event).await?;
    // Read back in the transaction: the database's own timestamps.
    let row = store::get(&mut *tx, id, false).await?;
    let response = CreateProjectResponse {
        project: Some(convert::project(row, &lines)),
    };
    key.record(&mut tx, &response).await?;
    tx.commit().await?;
    tracing::info!(project = %id, actor, materials = lines.len(), "project created");
    Ok(response)
}

async fn read(projects: &Projects, id: Uuid) -> ServiceResult<Project> {
    let row = store::get(&projects.pool, id, false).await?;
    let materials = store::materials(&projects.pool, &[id]).await?;
    Ok(convert::project(row, &materials))
}

pub(super) async fn update(
    projects: &Projects,
    request: UpdateProjectRequest,
) -> ServiceResult<UpdateProjectResponse> {
    let mut v = Violations::new();
    let Some(p) = request.project.as_ref() else {
        return Err(ServiceError::invalid("project", "required"));
    };
    let id = v.uuid(&p.id, "project.id");
    let paths = request
        .update_mask
        .as_ref()
        .map(|m| m.paths.clone())
        .unwrap_or_default();
    v.check(
        !paths.is_empty(),
        "update_mask",
        "name the fields to change",
    );
    for path in &paths {
        v.check(
            matches!(
                path.as_str(),
                "name" | "description" | "client" | "status" | "start_time" | "due_time"
            ),
            "update_mask",
            "only name, description, client, status, start_time and due_time can change",
        );
    }
    let has = |f: &str| paths.iter().any(|p| p == f);
    if has("name") {
        v.text(&p.name, "project.name", 200);
    }
    if has("description") || has("client") {
        check_optional_text(&mut v, p);
    }
    let next_status = if has("status") {
        let s = ProjectStatus::try_from(p.status)
            .ok()
            .and_then(convert::status_rule);
        v.check(s.is_some(), "project.status", "unknown status");
        s
    } else {
        None
    };
    let (start_time, due_time) = times(&mut v, p);
    v.finish()?;

    let mut tx = projects.pool.begin().await?;
    let current = store::get(&mut *tx, id, true).await?;
    let current_status = Status::parse(&current.status).unwrap_or(Status::Planned);
    if let Some(next) = next_status
        && !current_status.can_become(next)
    {
        return Err(ServiceError::precondition(
            "ILLEGAL_TRANSITION",
            format!(
                "a {} project cannot become {}",
                current_status.as_str(),
                next.as_str()
            ),
        ));
    }
    let start = if has("start_time") {
        start_time
    } else {
        current.start_time
    };
    let due = if has("due_time") {
        due_time
    } else {
        current.due_time
    };
    if let (Some(s), Some(d)) = (start, due)
        && d < s
    {
        return Err(ServiceError::invalid(
            "project.due_time",
            "must not be before start_time",
        ));
    }
    let fields = Fields {
        name: if has("name") {
            p.name.trim()
        } else {
            &current.name
        },
        description: if has("description") {
            p.description.trim()
        } else {
            &current.description
        },
        client: if has("client") {
            p.client.trim()
        } else {
            &current.client
        },
        status: next_status.unwrap_or(current_status).as_str(),
        start_time: start,
        due_time: due,
    };
    store::update(&mut tx, id, &fields).await?;
    tx.commit().await?;
    Ok(UpdateProjectResponse {
        project: Some(read(projects, id).await?),
    })
}

pub(super) async fn delete(
    projects: &Projects,
    request: DeleteProjectRequest,
) -> ServiceResult<DeleteProjectResponse> {
    let mut v = Violations::new();
    let id = v.uuid(&request.project_id, "project_id");
    v.finish()?;
    let mut tx = projects.pool.begin().await?;
    let current = store::get(&mut *tx, id, true).await?;
    let status = Status::parse(&current.status).unwrap_or(Status::Planned);
    if !status.deletable() {
        return Err(ServiceError::precondition(
            "PROJECT_STARTED",
            "only planned or cancelled projects can be deleted; cancel it instead",
        ));
    }
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(DeleteProjectResponse {})
}
