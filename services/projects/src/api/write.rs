//! Creating, updating and deleting projects. Creation publishes
//! `ProjectCreated` through the outbox in the same transaction.

use uuid::Uuid;

use super::convert;
use crate::domain::{self, MaterialInput, Schedule, Status};
use crate::store::{self, Fields, MaterialRow};
use crate::{Projects, SUBJECT_PROJECT_CREATED};
use malha_api::malha::projects::v1::*;
use malha_kit::idempotency::{Claim, Key, Owner};
use malha_kit::mask::Updatable;
use malha_kit::stored::StoredName;
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

/// The project's times as given (`None` when absent or out of range, the
/// latter recorded in `v`), checked against each other by the domain.
fn schedule(v: &mut Violations, p: &Project) -> Schedule {
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
    Schedule { start, due }
}

/// The status the request names: `None` for UNSPECIFIED, `Err` for a
/// number outside the enum.
fn requested_status(p: &Project) -> Result<Option<Status>, ()> {
    match ProjectStatus::try_from(p.status) {
        Ok(ProjectStatus::Unspecified) => Ok(None),
        Ok(s) => Ok(convert::status_rule(s)),
        Err(_) => Err(()),
    }
}

/// The fields UpdateProject writes; materials are fixed at creation (their
/// stock was already subtracted).
const UPDATABLE: Updatable = Updatable::new(&[
    "name",
    "description",
    "client",
    "status",
    "start_time",
    "due_time",
])
.with_hints(&[(
    "materials",
    "materials are fixed once the project is created: their stock was subtracted",
)]);

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
    let schedule = schedule(&mut v, p);
    schedule.check(&mut v);
    let status = requested_status(p).ok().and_then(Status::initial);
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
        start_time: schedule.start,
        due_time: schedule.due,
    };
    let mut tx = projects.pool.begin().await?;
    // A retry: the first call created it (and published the event).
    if let Claim::Replay(done) = key.claim(&mut tx).await? {
        return Ok(done);
    }
    let id = Uuid::now_v7();
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
    // One statement: the project, its lines, and the row as stored.
    let row = store::insert(&mut tx, id, &fields, &lines).await?;
    let event = ProjectCreated {
        project_id: id.to_string(),
        project_name: fields.name.to_owned(),
        materials: lines.iter().map(convert::material).collect(),
    };
    events::publish(&mut tx, crate::SCHEMA.name, SUBJECT_PROJECT_CREATED, &event).await?;
    let response = CreateProjectResponse {
        project: Some(convert::project(row, &lines)?),
    };
    key.record(&mut tx, &response).await?;
    tx.commit().await?;
    // Its event and the project row are the record; nothing per write at INFO.
    tracing::debug!(project = %id, actor, materials = lines.len(), "project created");
    Ok(response)
}

async fn read(projects: &Projects, id: Uuid) -> ServiceResult<Project> {
    let row = store::get(&projects.pool, id, false).await?;
    let materials = store::materials(&projects.pool, &[id]).await?;
    Ok(convert::project(row, &materials)?)
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
    let mask = UPDATABLE.resolve(&mut v, request.update_mask.as_ref(), p);
    if mask.has("name") {
        v.text(&p.name, "project.name", 200);
    }
    if mask.has("description") || mask.has("client") {
        check_optional_text(&mut v, p);
    }
    let next_status = if mask.has("status") {
        let s = requested_status(p).ok().flatten();
        v.check(s.is_some(), "project.status", "unknown status");
        s
    } else {
        None
    };
    let requested = schedule(&mut v, p);
    v.finish()?;

    let mut tx = projects.pool.begin().await?;
    let current = store::get(&mut *tx, id, true).await?;
    let current_status = Status::from_stored(&current.status)?;
    let status = match next_status {
        Some(next) => current_status.move_to(next)?,
        None => current_status,
    };
    let schedule = Schedule {
        start: mask.pick("start_time", requested.start, current.start_time),
        due: mask.pick("due_time", requested.due, current.due_time),
    };
    let mut v = Violations::new();
    schedule.check(&mut v);
    v.finish()?;
    let fields = Fields {
        name: mask.pick("name", p.name.trim(), &current.name),
        description: mask.pick("description", p.description.trim(), &current.description),
        client: mask.pick("client", p.client.trim(), &current.client),
        status: status.as_str(),
        start_time: schedule.start,
        due_time: schedule.due,
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
    Status::from_stored(&current.status)?.check_deletable()?;
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(DeleteProjectResponse {})
}

/// A typo in [`UPDATABLE`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(UPDATABLE.undeclared_in::<Project>().is_empty());
}
