//! `login_failures`: the lockout counter per typed username.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;

use crate::domain::lockout::Failures;
use malha_kit::ServiceResult;

/// The failure record of `username` (zero when none).
pub async fn get(pool: &Pool, username: &str) -> ServiceResult<Failures> {
    let row: Option<(i32, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT failures, locked_until FROM login_failures WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?;
    Ok(
        row.map_or_else(Failures::default, |(count, locked_until)| Failures {
            count,
            locked_until,
        }),
    )
}

/// Stores the record after a failure.
pub async fn save(pool: &Pool, username: &str, failures: &Failures) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO login_failures (username, failures, locked_until) VALUES ($1, $2, $3)
         ON CONFLICT (username) DO UPDATE SET failures = $2, locked_until = $3",
    )
    .bind(username)
    .bind(failures.count)
    .bind(failures.locked_until)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets the failures after a successful login.
pub async fn clear(pool: &Pool, username: &str) -> ServiceResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(pool)
        .await?;
    Ok(())
}
