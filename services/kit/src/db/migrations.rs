//! A service's migration history, applied and pending, and reverting it step
//! by step. A service's schema has two tracks: its own migrations
//! (`_sqlx_migrations`) and the kit's event tables (`_malha_events_migrations`).
//! Within a track steps go in version order, as sqlx applies them; across
//! tracks, the step applied last is reverted first (the event tables are
//! applied before a fresh schema's own migrations, see [`super::migrate`]).

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;

use super::{Pool, Schema};

/// Which history a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The service's own migrations (`services/<name>/migrations`).
    Service,
    /// The kit's event tables (`services/kit/migrations`), in every schema.
    Events,
}

impl Track {
    /// `service` or `events`, as `malha migrate status` prints it.
    pub fn label(self) -> &'static str {
        match self {
            Track::Service => "service",
            Track::Events => "events",
        }
    }
}

/// One migration of a schema, applied or pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its history.
    pub track: Track,
    /// Its version (the file's number).
    pub version: i64,
    /// Its description (the file's name after the number).
    pub description: String,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<DateTime<Utc>>,
}

fn migrator(track: Track, schema: &Schema) -> &'static Migrator {
    match track {
        Track::Service => schema.migrator,
        Track::Events => &crate::events::MIGRATOR,
    }
}

/// Versions applied in one track, with their times, in version order.
async fn applied(pool: &Pool, migrator: &Migrator) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
    // The history table lives in the schema (search_path); it does not exist
    // before the first migration.
    let table: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(migrator.table_name.as_ref())
        .fetch_one(pool.admin())
        .await
        .context("reading the migration history")?;
    if table.is_none() {
        return Ok(Vec::new());
    }
    // The table name is a constant of sqlx or the kit, never input.
    let sql = format!(
        "SELECT version, installed_on FROM {} WHERE success ORDER BY version",
        migrator.table_name
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool.admin())
        .await
        .context("reading the migration history")
}

/// Every step of `schema`: the applied ones in the order they were applied,
/// then the pending ones in the order they would be.
pub async fn status(pool: &Pool, schema: &Schema) -> anyhow::Result<Vec<Step>> {
    let mut applied_steps = Vec::new();
    let mut pending = Vec::new();
    for track in [Track::Service, Track::Events] {
        let migrator = migrator(track, schema);
        let done = applied(pool, migrator).await?;
        for migration in migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
        {
            let step = Step {
                track,
                version: migration.version,
                description: migration.description.to_string(),
                applied_at: done
                    .iter()
                    .find(|(version, _)| *version == migration.version)
                    .map(|(_, at)| *at),
            };
            if step.applied_at.is_some() {
                applied_steps.push(step);
            } else {
                pending.push(step);
            }
        }
    }
    applied_steps.sort_by_key(|step| (step.applied_at, step.track == Track::Service, step.version));
    applied_steps.extend(pending);
    Ok(applied_steps)
}

/// Reverts the last `steps` applied steps of `schema` (fewer if fewer are
/// applied), running each one's down script; returns them, last first.
pub async fn revert(pool: &Pool, schema: &Schema, steps: usize) -> anyhow::Result<Vec<Step>> {
    let mut reverted = Vec::new();
    for _ in 0..steps {
        let history = status(pool, schema).await?;
        // The newest step of each track is the only one its track can revert
        // next; of those, the one applied last goes first.
        let Some(step) = history
            .iter()
            .filter(|step| step.applied_at.is_some())
            .filter(|step| {
                !history.iter().any(|other| {
                    other.track == step.track
                        && other.applied_at.is_some()
                        && other.version > step.version
                })
            })
            .max_by_key(|step| (step.applied_at, step.track == Track::Service, step.version))
            .cloned()
        else {
            break;
        };
        let migrator = migrator(step.track, schema);
        anyhow::ensure!(
            migrator
                .iter()
                .any(|m| m.version == step.version && m.migration_type.is_down_migration()),
            "migration {:04} {} of {} has no down script ({:04}_{}.down.sql)",
            step.version,
            step.description,
            schema.name,
            step.version,
            step.description,
        );
        let below = history
            .iter()
            .filter(|other| {
                other.track == step.track
                    && other.applied_at.is_some()
                    && other.version < step.version
            })
            .map(|other| other.version)
            .max()
            .unwrap_or(0);
        migrator.undo(pool.admin(), below).await.with_context(|| {
            format!(
                "reverting migration {:04} {} of {}",
                step.version, step.description, schema.name
            )
        })?;
        reverted.push(step);
    }
    Ok(reverted)
}
