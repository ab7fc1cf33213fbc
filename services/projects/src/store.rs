//! Projects' repository: every SQL statement of the service.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use malha_kit::page::PageRequest;
use malha_kit::{ServiceError, ServiceResult};

/// A stored project (materials loaded separately).
#[derive(Debug, Clone, FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub client: String,
    pub status: String,
    pub start_time: Option<DateTime<Utc>>,
    pub due_time: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored material line.
#[derive(Debug, Clone, FromRow)]
pub struct MaterialRow {
    pub project_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub quantity: i64,
}

/// The editable fields of a project.
pub struct Fields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub client: &'a str,
    pub status: &'a str,
    pub start_time: Option<DateTime<Utc>>,
    pub due_time: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, name, description, client, status, start_time, due_time, created_at, updated_at";

/// Inserts project `id` with its material lines, in one statement; the
/// stored row (the database's own timestamps).
pub async fn insert(
    tx: &mut PgConnection,
    id: Uuid,
    fields: &Fields<'_>,
    lines: &[MaterialRow],
) -> ServiceResult<ProjectRow> {
    let products: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.product_name.as_str()).collect();
    let quantities: Vec<i64> = lines.iter().map(|l| l.quantity).collect();
    let sql = format!(
        "WITH project AS (
             INSERT INTO projects (id, name, description, client, status, start_time, due_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}
         ), lines AS (
             INSERT INTO materials (project_id, product_id, product_name, quantity)
             SELECT project.id, line.* FROM project, unnest($8::uuid[], $9::text[], $10::bigint[]) AS line
         )
         SELECT {COLUMNS} FROM project"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.client)
        .bind(fields.status)
        .bind(fields.start_time)
        .bind(fields.due_time)
        .bind(&products)
        .bind(&names)
        .bind(&quantities)
        .fetch_one(tx)
        .await?)
}

/// The project with `id`, locked for update when inside a transaction.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid, lock: bool) -> ServiceResult<ProjectRow> {
    let sql = format!(
        "SELECT {COLUMNS} FROM projects WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(ServiceError::NotFound {
            resource: "project",
        })
}

/// The material lines of `projects`, in one query.
pub async fn materials(
    db: impl PgExecutor<'_>,
    projects: &[Uuid],
) -> ServiceResult<Vec<MaterialRow>> {
    Ok(sqlx::query_as(
        "SELECT project_id, product_id, product_name, quantity FROM materials
          WHERE project_id = ANY($1) ORDER BY project_id, product_name",
    )
    .bind(projects)
    .fetch_all(db)
    .await?)
}

/// One page of projects, newest first.
pub async fn list(
    pool: &Pool,
    page: &PageRequest,
    status: Option<&str>,
) -> ServiceResult<Vec<ProjectRow>> {
    let before = page.after_as::<Uuid>()?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM projects
          WHERE ($1::uuid IS NULL OR id < $1) AND ($2::text IS NULL OR status = $2)
          ORDER BY id DESC LIMIT $3"
    )))
    .bind(before)
    .bind(status)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}

/// Writes the editable fields.
pub async fn update(tx: &mut PgConnection, id: Uuid, fields: &Fields<'_>) -> ServiceResult<()> {
    sqlx::query(
        "UPDATE projects SET name = $2, description = $3, client = $4, status = $5,
                start_time = $6, due_time = $7, updated_at = now()
          WHERE id = $1",
    )
    .bind(id)
    .bind(fields.name)
    .bind(fields.description)
    .bind(fields.client)
    .bind(fields.status)
    .bind(fields.start_time)
    .bind(fields.due_time)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes the project (its materials cascade).
pub async fn delete(tx: &mut PgConnection, id: Uuid) -> ServiceResult<()> {
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}
