//! The transaction log: appends (one at a time, under the head's row lock)
//! and reads in sequence order.

use chrono::{DateTime, Utc};
use malha_kit::db::Pool;
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::ledger::{self, Entry, Kind, Linked};
use malha_kit::ServiceResult;
use malha_kit::page::PageRequest;

/// A stored entry.
#[derive(Debug, Clone, FromRow)]
pub struct TransactionRow {
    pub sequence: i64,
    pub id: Uuid,
    pub payment_id: Uuid,
    pub kind: String,
    pub amount_centavos: i64,
    pub actor: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl TransactionRow {
    /// The entry with its links, as the chain check reads it.
    pub fn linked(self) -> Linked {
        Linked {
            entry: Entry {
                sequence: self.sequence,
                id: self.id,
                payment_id: self.payment_id,
                kind: self.kind,
                amount_centavos: self.amount_centavos,
                actor: self.actor,
                detail: self.detail,
                created_at: self.created_at,
            },
            previous_hash: self.previous_hash,
            hash: self.hash,
        }
    }
}

const COLUMNS: &str = "sequence, id, payment_id, kind, amount_centavos, actor, detail, created_at, previous_hash, hash";

/// What to append.
pub struct Append<'a> {
    pub payment_id: Uuid,
    pub kind: Kind,
    pub amount_centavos: i64,
    pub actor: &'a str,
    pub detail: &'a str,
}

/// Appends an entry chained after the newest one, in the caller's
/// transaction. Appends are serialized by the head row's lock.
pub async fn append(tx: &mut PgConnection, append: &Append<'_>) -> ServiceResult<TransactionRow> {
    let (head_sequence, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT sequence, hash FROM ledger_head FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    let entry = Entry {
        sequence: head_sequence + 1,
        id: Uuid::now_v7(),
        payment_id: append.payment_id,
        kind: append.kind.as_str().to_owned(),
        amount_centavos: append.amount_centavos,
        actor: append.actor.to_owned(),
        detail: append.detail.to_owned(),
        created_at: ledger::now(),
    };
    let hash = entry.chain(&head_hash).to_vec();
    sqlx::query(
        "INSERT INTO transactions (sequence, id, payment_id, kind, amount_centavos, actor, detail,
                                   created_at, previous_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(entry.sequence)
    .bind(entry.id)
    .bind(entry.payment_id)
    .bind(&entry.kind)
    .bind(entry.amount_centavos)
    .bind(&entry.actor)
    .bind(&entry.detail)
    .bind(entry.created_at)
    .bind(&head_hash)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE ledger_head SET sequence = $1, hash = $2")
        .bind(entry.sequence)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    Ok(TransactionRow {
        sequence: entry.sequence,
        id: entry.id,
        payment_id: entry.payment_id,
        kind: entry.kind,
        amount_centavos: entry.amount_centavos,
        actor: entry.actor,
        detail: entry.detail,
        created_at: entry.created_at,
        previous_hash: head_hash,
        hash,
    })
}

/// Entries after `after`, in sequence order, at most `limit`.
pub async fn walk(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> ServiceResult<Vec<TransactionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM transactions WHERE sequence > $1 ORDER BY sequence LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// The newest sequence and hash, as the head records them.
pub async fn head(db: impl PgExecutor<'_>) -> ServiceResult<(i64, Vec<u8>)> {
    Ok(sqlx::query_as("SELECT sequence, hash FROM ledger_head")
        .fetch_one(db)
        .await?)
}

/// One page of entries, oldest first, optionally of one payment.
pub async fn list(
    pool: &Pool,
    payment_id: Option<Uuid>,
    page: &PageRequest,
) -> ServiceResult<Vec<TransactionRow>> {
    let after = page.after_as::<i64>()?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM transactions
          WHERE sequence > $1 AND ($2::uuid IS NULL OR payment_id = $2)
          ORDER BY sequence LIMIT $3"
    )))
    .bind(after.unwrap_or(0))
    .bind(payment_id)
    .bind(page.fetch_limit())
    .fetch_all(pool)
    .await?)
}
