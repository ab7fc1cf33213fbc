//! Rows ↔ proto messages.

use crate::domain::Status;
use crate::store::{MaterialRow, ProjectRow};
use malha_api::malha::projects::v1::{Material, Project, ProjectStatus};
use malha_kit::stored::{StoredName, UnknownStored, readable_rows};
use malha_kit::time::to_proto;

pub(super) fn status_rule(status: ProjectStatus) -> Option<Status> {
    Some(match status {
        ProjectStatus::Planned => Status::Planned,
        ProjectStatus::InProgress => Status::InProgress,
        ProjectStatus::Done => Status::Done,
        ProjectStatus::Cancelled => Status::Cancelled,
        ProjectStatus::Unspecified => return None,
    })
}

fn status_proto(status: Status) -> ProjectStatus {
    match status {
        Status::Planned => ProjectStatus::Planned,
        Status::InProgress => ProjectStatus::InProgress,
        Status::Done => ProjectStatus::Done,
        Status::Cancelled => ProjectStatus::Cancelled,
    }
}

pub(super) fn material(line: &MaterialRow) -> Material {
    Material {
        product_id: line.product_id.to_string(),
        product_name: line.product_name.clone(),
        quantity: line.quantity,
    }
}

/// The project with its lines picked out of `materials` (any order); an
/// error when its stored status is one this build does not know.
pub(super) fn project(
    row: ProjectRow,
    materials: &[MaterialRow],
) -> Result<Project, UnknownStored> {
    let status = status_proto(Status::from_stored(&row.status)?);
    Ok(Project {
        materials: materials
            .iter()
            .filter(|m| m.project_id == row.id)
            .map(material)
            .collect(),
        id: row.id.to_string(),
        name: row.name,
        description: row.description,
        client: row.client,
        status: status as i32,
        start_time: row.start_time.and_then(to_proto),
        due_time: row.due_time.and_then(to_proto),
        create_time: to_proto(row.created_at),
        update_time: to_proto(row.updated_at),
    })
}

/// A page of projects; a row that cannot be read (a status from a newer
/// version) is logged and left out.
pub(super) fn projects(rows: Vec<ProjectRow>, materials: &[MaterialRow]) -> Vec<Project> {
    readable_rows(
        "project",
        rows,
        |r| r.id.to_string(),
        |row| project(row, materials),
    )
}
