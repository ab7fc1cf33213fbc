//! The transaction log: appends (chained at commit, under the head's row
//! lock) and reads in sequence order.

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

/// A transaction that writes to the log. Entries are [`Tx::log`]ged as the
/// work goes and chained by [`Tx::commit`] as its last write: the head's row
/// lock, which serializes every append across replicas, is then held for one
/// read, one statement and the commit, not for the whole transaction. Lock
/// order is always the payment (or order) first, the head last.
pub struct Tx {
    tx: malha_kit::db::Tx,
    pending: Vec<Entry>,
}

impl Tx {
    /// Begins a transaction on a pooled connection.
    pub async fn begin(pool: &Pool) -> ServiceResult<Self> {
        Ok(Self {
            tx: pool.begin().await?,
            pending: Vec::new(),
        })
    }

    /// Logs an entry, chained when the transaction commits.
    pub fn log(&mut self, append: &Append<'_>) {
        self.pending.push(Entry {
            sequence: 0,
            id: Uuid::now_v7(),
            payment_id: append.payment_id,
            kind: append.kind.as_str().to_owned(),
            amount_centavos: append.amount_centavos,
            actor: append.actor.to_owned(),
            detail: append.detail.to_owned(),
            created_at: ledger::now(),
        });
    }

    /// Chains the logged entries after the head, then commits.
    pub async fn commit(mut self) -> ServiceResult<()> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            chain(&mut self.tx, pending).await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// Rolls back: nothing logged is kept.
    pub async fn rollback(self) -> ServiceResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// Appends `entries` after the head, in order, under the head's row lock:
/// one read, one statement (the rows and the new head together).
async fn chain(tx: &mut PgConnection, mut entries: Vec<Entry>) -> ServiceResult<()> {
    let (mut sequence, mut hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT sequence, hash FROM ledger_head FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    // Stamped when chained, so that time and sequence agree.
    let chained_at = ledger::now();
    let mut previous_hashes = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len());
    for entry in &mut entries {
        sequence += 1;
        entry.sequence = sequence;
        entry.created_at = chained_at;
        let next = entry.chain(&hash).to_vec();
        previous_hashes.push(std::mem::replace(&mut hash, next.clone()));
        hashes.push(next);
    }
    let text = |f: fn(&Entry) -> &str| entries.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "WITH appended AS (
             INSERT INTO transactions (sequence, id, payment_id, kind, amount_centavos, actor,
                                       detail, created_at, previous_hash, hash)
             SELECT * FROM UNNEST($1::bigint[], $2::uuid[], $3::uuid[], $4::text[], $5::bigint[],
                                  $6::text[], $7::text[], $8::timestamptz[], $9::bytea[],
                                  $10::bytea[]))
         UPDATE ledger_head SET sequence = $11, hash = $12",
    )
    .bind(entries.iter().map(|e| e.sequence).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.payment_id).collect::<Vec<_>>())
    .bind(text(|e| &e.kind))
    .bind(
        entries
            .iter()
            .map(|e| e.amount_centavos)
            .collect::<Vec<_>>(),
    )
    .bind(text(|e| &e.actor))
    .bind(text(|e| &e.detail))
    .bind(entries.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .bind(previous_hashes)
    .bind(hashes)
    .bind(sequence)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
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
