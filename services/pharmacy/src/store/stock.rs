//! The stock ledger: recording a movement (the pocket, its ledger row, the
//! audit entry of a controlled medicine and the outbox events commit
//! together, in [`record`]), batches of dispenses for one source recorded
//! once ([`dispense_once`]), listing, and the audit trail's appends and
//! reads.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::catalog::{Item, ItemRow};
use super::dispensers::{self, Dispenser, Pocket};
use crate::domain::audit::{self, AuditEntry, LinkedEntry};
use crate::domain::stock::{self, MovementKind, MovementQuantity, NotEnough};
use crate::domain::{ItemKind, PocketCode};
use crate::events;
use malha_kit::page::PageRequest;
use malha_kit::stored::{StoredName, UnknownStored, readable_rows};
use malha_kit::{ServiceError, ServiceResult};

/// A ledger row with its item.
#[derive(Debug, Clone)]
pub struct Movement {
    pub id: Uuid,
    pub dispenser_id: Uuid,
    pub pocket: String,
    pub item: Item,
    pub kind: MovementKind,
    pub quantity: i64,
    pub delta: i64,
    pub balance: i64,
    pub reason: String,
    pub actor: String,
    pub care_request_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, FromRow)]
struct MovementRow {
    id: Uuid,
    dispenser_id: Uuid,
    pocket: String,
    kind: String,
    quantity: i64,
    delta: i64,
    balance: i64,
    reason: String,
    actor: String,
    care_request_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    item: ItemRow,
}

impl MovementRow {
    fn read(self) -> Result<Movement, UnknownStored> {
        Ok(Movement {
            id: self.id,
            dispenser_id: self.dispenser_id,
            pocket: self.pocket,
            item: self.item.read()?,
            kind: MovementKind::from_stored(&self.kind)?,
            quantity: self.quantity,
            delta: self.delta,
            balance: self.balance,
            reason: self.reason,
            actor: self.actor,
            care_request_id: self.care_request_id,
            created_at: self.created_at,
        })
    }
}

const MOVEMENT: &str = "SELECT m.id, m.dispenser_id, m.pocket, m.kind, m.quantity, m.delta,
        m.balance, m.reason, m.actor, m.care_request_id, m.created_at,
        i.id AS item_id, i.kind AS item_kind, i.name AS item_name, i.unit AS item_unit,
        i.controlled AS item_controlled, i.active AS item_active
   FROM movements m JOIN items i ON i.id = m.item_id";

/// A movement to record, every field checked.
#[derive(Debug, Clone)]
pub struct NewMovement<'a> {
    pub kind: MovementKind,
    pub quantity: MovementQuantity,
    pub reason: &'a str,
    /// Who: `user:<id>`, `service:<id>`.
    pub actor: &'a str,
    pub care_request_id: Option<Uuid>,
    /// The batch it belongs to ([`dispense_once`]), if any.
    pub source_key: Option<&'a str>,
}

/// Why a movement was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The cabinet's status takes no movement of this kind.
    CabinetUnavailable { status: &'static str },
    /// The pocket would go below zero.
    NotEnough(NotEnough),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CabinetUnavailable { status } => {
                write!(f, "the dispenser is {status} and takes no such movement")
            }
            Self::NotEnough(not_enough) => not_enough.fmt(f),
        }
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::CabinetUnavailable { .. } => {
                ServiceError::precondition("DISPENSER_UNAVAILABLE", refusal.to_string())
            }
            Refusal::NotEnough(_) => {
                ServiceError::precondition("INSUFFICIENT_STOCK", refusal.to_string())
            }
        }
    }
}

/// Records `new` at `pocket` (locked by the caller, of `dispenser`, locked
/// shared by the caller) in `tx`: the pocket's quantity, the ledger row,
/// the audit entry of a controlled medicine and the events, together. A
/// refusal writes nothing.
pub async fn record(
    tx: &mut PgConnection,
    dispenser: &Dispenser,
    pocket: &Pocket,
    new: &NewMovement<'_>,
) -> ServiceResult<Result<Movement, Refusal>> {
    if !dispenser.status.accepts(new.kind) {
        return Ok(Err(Refusal::CabinetUnavailable {
            status: dispenser.status.as_str(),
        }));
    }
    let applied = match stock::apply(new.kind, new.quantity, pocket.quantity, pocket.minimum) {
        Ok(applied) => applied,
        Err(not_enough) => return Ok(Err(Refusal::NotEnough(not_enough))),
    };
    let movement = Movement {
        id: Uuid::now_v7(),
        dispenser_id: dispenser.id,
        pocket: pocket.pocket.clone(),
        item: pocket.item.clone(),
        kind: new.kind,
        quantity: new.quantity.get(),
        delta: applied.delta,
        balance: applied.balance,
        reason: new.reason.to_owned(),
        actor: new.actor.to_owned(),
        care_request_id: new.care_request_id,
        // The audit hashes the time as stored: microseconds.
        created_at: audit::now(),
    };
    let (medicine, material) = match movement.item.kind {
        ItemKind::Medicine => (Some(movement.item.id), None),
        ItemKind::Material => (None, Some(movement.item.id)),
    };
    sqlx::query(
        "INSERT INTO movements (id, dispenser_id, pocket, medicine_id, material_id, kind,
                                quantity, delta, balance, reason, actor, care_request_id,
                                source_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(movement.id)
    .bind(movement.dispenser_id)
    .bind(&movement.pocket)
    .bind(medicine)
    .bind(material)
    .bind(movement.kind.as_str())
    .bind(movement.quantity)
    .bind(movement.delta)
    .bind(movement.balance)
    .bind(&movement.reason)
    .bind(&movement.actor)
    .bind(movement.care_request_id)
    .bind(new.source_key)
    .bind(movement.created_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE pockets SET quantity = $3, updated_at = now()
          WHERE dispenser_id = $1 AND pocket = $2",
    )
    .bind(movement.dispenser_id)
    .bind(&movement.pocket)
    .bind(movement.balance)
    .execute(&mut *tx)
    .await?;
    if movement.item.controlled && movement.item.kind == ItemKind::Medicine {
        append_audit(tx, &movement).await?;
    }
    if movement.kind == MovementKind::Dispense {
        events::dispensed(tx, &movement).await?;
    }
    if applied.fell_below_minimum {
        events::stock_low(tx, dispenser, pocket, applied.balance).await?;
    }
    Ok(Ok(movement))
}

/// The movement with `id`.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> ServiceResult<Movement> {
    let row: MovementRow =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{MOVEMENT} WHERE m.id = $1")))
            .bind(id)
            .fetch_optional(db)
            .await?
            .ok_or(ServiceError::NotFound {
                resource: "movement",
            })?;
    Ok(row.read()?)
}

/// One page of a cabinet's movements, newest first (the token holds the
/// last id).
pub async fn list(
    db: impl PgExecutor<'_>,
    dispenser_id: Uuid,
    page: &PageRequest,
) -> ServiceResult<Vec<Movement>> {
    let rows: Vec<MovementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MOVEMENT} WHERE m.dispenser_id = $1 AND ($2::uuid IS NULL OR m.id < $2)
          ORDER BY m.id DESC LIMIT $3"
    )))
    .bind(dispenser_id)
    .bind(page.after_as::<Uuid>()?)
    .bind(page.fetch_limit())
    .fetch_all(db)
    .await?;
    Ok(readable_rows(
        "movement",
        rows,
        |r| r.id.to_string(),
        MovementRow::read,
    ))
}

/// One line of a batch: take `quantity` of `item_id` from the cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispenseLine {
    pub item_id: Uuid,
    pub quantity: i64,
}

/// A set of dispenses from one cabinet for one source (a completed care
/// request), recorded all or nothing, and once.
#[derive(Debug, Clone)]
pub struct DispenseBatch<'a> {
    /// Unique per batch (`care-request:<id>`): a second call with the same
    /// key records nothing and answers what the first recorded.
    pub source_key: &'a str,
    pub dispenser_id: Uuid,
    pub care_request_id: Option<Uuid>,
    pub lines: &'a [DispenseLine],
    /// Who: `service:<id>`, or the user the source names.
    pub actor: &'a str,
    /// Why, for the ledger (`care request 0193… completed`).
    pub reason: &'a str,
}

/// An item of a refused batch and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// Nil when the refusal concerns the whole batch (an unknown cabinet).
    pub item_id: Uuid,
    pub wanted: i64,
    /// What the cabinet's pockets hold of it together.
    pub on_hand: i64,
    /// For people: `PYX-UTI-01 holds 2 of Dipirona, 5 requested`.
    pub reason: String,
}

/// What [`dispense_once`] did.
#[derive(Debug, Clone)]
pub enum DispenseOutcome {
    /// Every line was dispensed: the movements written now.
    Recorded(Vec<Movement>),
    /// The source was recorded before: its movements, nothing new written.
    AlreadyRecorded(Vec<Movement>),
    /// Nothing was written: what the cabinet did not have (or why it
    /// dispenses nothing now).
    Refused(Vec<Shortfall>),
}

/// Records the dispenses of `batch` in the caller's transaction `tx`: each
/// line is taken from the cabinet's pockets holding the item (pocket by
/// pocket, [`stock::allocate`]); when any line cannot be met, or the
/// cabinet does not dispense now, nothing at all is written and the
/// shortfalls are returned. A batch whose `source_key` was recorded before
/// writes nothing either ([`DispenseOutcome::AlreadyRecorded`]). Pockets are
/// locked in pocket order, so concurrent batches cannot deadlock.
pub async fn dispense_once(
    tx: &mut PgConnection,
    batch: &DispenseBatch<'_>,
) -> ServiceResult<DispenseOutcome> {
    if let Some(movements) = recorded_for(tx, batch.source_key).await? {
        return Ok(DispenseOutcome::AlreadyRecorded(movements));
    }
    let refuse_all = |reason: String| {
        Ok(DispenseOutcome::Refused(vec![Shortfall {
            item_id: Uuid::nil(),
            wanted: 0,
            on_hand: 0,
            reason,
        }]))
    };
    let dispenser = match dispensers::lock_shared(tx, batch.dispenser_id).await {
        Ok(dispenser) => dispenser,
        Err(ServiceError::NotFound { .. }) => {
            return refuse_all(format!("no dispenser {}", batch.dispenser_id));
        }
        Err(other) => return Err(other),
    };
    if !dispenser.status.accepts(MovementKind::Dispense) {
        return refuse_all(format!(
            "{} is {} and dispenses nothing",
            dispenser.code,
            dispenser.status.as_str()
        ));
    }

    // The same item on two lines is one amount to find.
    let mut wanted: BTreeMap<Uuid, i64> = BTreeMap::new();
    for line in batch.lines {
        *wanted.entry(line.item_id).or_default() += line.quantity;
    }
    let items: Vec<Uuid> = wanted.keys().copied().collect();
    let pockets = dispensers::lock_pockets_holding(tx, dispenser.id, &items).await?;

    let mut shortfalls = Vec::new();
    let mut takes: Vec<(&Pocket, MovementQuantity)> = Vec::new();
    for (&item_id, &amount) in &wanted {
        let holding: Vec<&Pocket> = pockets.iter().filter(|p| p.item.id == item_id).collect();
        let name = holding
            .first()
            .map_or_else(|| item_id.to_string(), |p| p.item.name.clone());
        let on_hand: Vec<i64> = holding.iter().map(|p| p.quantity).collect();
        let total = on_hand.iter().sum();
        if let Err(problem) = MovementQuantity::parse(MovementKind::Dispense, amount) {
            shortfalls.push(Shortfall {
                item_id,
                wanted: amount,
                on_hand: total,
                reason: format!("{amount} of {name} requested: {problem}"),
            });
            continue;
        }
        match stock::allocate(amount, &on_hand) {
            Ok(taken) => {
                for (index, quantity) in taken {
                    let quantity = MovementQuantity::parse(MovementKind::Dispense, quantity)
                        .map_err(|problem| anyhow::anyhow!("allocated {quantity}: {problem}"))?;
                    takes.push((holding[index], quantity));
                }
            }
            Err(short) => shortfalls.push(Shortfall {
                item_id,
                wanted: amount,
                on_hand: total,
                reason: format!(
                    "{} holds {} of {name}, {} requested",
                    dispenser.code, short.on_hand, short.wanted
                ),
            }),
        }
    }
    if wanted.is_empty() {
        return refuse_all("the batch names no item".into());
    }
    if !shortfalls.is_empty() {
        return Ok(DispenseOutcome::Refused(shortfalls));
    }

    let claimed = sqlx::query(
        "INSERT INTO dispense_sources (source_key, dispenser_id) VALUES ($1, $2)
         ON CONFLICT (source_key) DO NOTHING",
    )
    .bind(batch.source_key)
    .bind(dispenser.id)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        // A concurrent batch with the same key committed while we waited.
        let movements = recorded_for(tx, batch.source_key)
            .await?
            .unwrap_or_default();
        return Ok(DispenseOutcome::AlreadyRecorded(movements));
    }
    let mut movements = Vec::with_capacity(takes.len());
    for (pocket, quantity) in takes {
        let new = NewMovement {
            kind: MovementKind::Dispense,
            quantity,
            reason: batch.reason,
            actor: batch.actor,
            care_request_id: batch.care_request_id,
            source_key: Some(batch.source_key),
        };
        match record(tx, &dispenser, pocket, &new).await? {
            Ok(movement) => movements.push(movement),
            // Checked above under the same locks: a bug if it happens.
            Err(refusal) => {
                return Err(anyhow::anyhow!("allocated dispense refused: {refusal}").into());
            }
        }
    }
    Ok(DispenseOutcome::Recorded(movements))
}

/// The movements recorded for `source_key`, or `None` when it was never
/// recorded.
async fn recorded_for(
    tx: &mut PgConnection,
    source_key: &str,
) -> ServiceResult<Option<Vec<Movement>>> {
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM dispense_sources WHERE source_key = $1)")
            .bind(source_key)
            .fetch_one(&mut *tx)
            .await?;
    if !known {
        return Ok(None);
    }
    let rows: Vec<MovementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MOVEMENT} WHERE m.source_key = $1 ORDER BY m.id"
    )))
    .bind(source_key)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Some(
        rows.into_iter()
            .map(MovementRow::read)
            .collect::<Result<_, _>>()?,
    ))
}

/// Appends the audit entry of a controlled medicine's movement, chained
/// after the newest one; appends are serialized by the head row's lock.
async fn append_audit(tx: &mut PgConnection, movement: &Movement) -> ServiceResult<()> {
    let (head_sequence, head_hash): (i64, Vec<u8>) =
        sqlx::query_as("SELECT sequence, hash FROM audit_head FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    let entry = AuditEntry {
        sequence: head_sequence + 1,
        movement_id: movement.id,
        dispenser_id: movement.dispenser_id,
        pocket: movement.pocket.clone(),
        medicine_id: movement.item.id,
        kind: movement.kind.as_str().to_owned(),
        delta: movement.delta,
        balance: movement.balance,
        actor: movement.actor.clone(),
        reason: movement.reason.clone(),
        created_at: movement.created_at,
    };
    let hash = entry.chain(&head_hash).to_vec();
    sqlx::query(
        "INSERT INTO audit_entries (sequence, movement_id, dispenser_id, pocket, medicine_id, kind,
                                    delta, balance, actor, reason, created_at, previous_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(entry.sequence)
    .bind(entry.movement_id)
    .bind(entry.dispenser_id)
    .bind(&entry.pocket)
    .bind(entry.medicine_id)
    .bind(&entry.kind)
    .bind(entry.delta)
    .bind(entry.balance)
    .bind(&entry.actor)
    .bind(&entry.reason)
    .bind(entry.created_at)
    .bind(&head_hash)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_head SET sequence = $1, hash = $2")
        .bind(entry.sequence)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
struct AuditRow {
    sequence: i64,
    movement_id: Uuid,
    dispenser_id: Uuid,
    pocket: String,
    medicine_id: Uuid,
    kind: String,
    delta: i64,
    balance: i64,
    actor: String,
    reason: String,
    created_at: DateTime<Utc>,
    previous_hash: Vec<u8>,
    hash: Vec<u8>,
}

/// Audit entries after `after`, in sequence order, at most `limit`.
pub async fn audit_walk(
    db: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> ServiceResult<Vec<LinkedEntry>> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT sequence, movement_id, dispenser_id, pocket, medicine_id, kind, delta, balance,
                actor, reason, created_at, previous_hash, hash
           FROM audit_entries WHERE sequence > $1 ORDER BY sequence LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LinkedEntry {
            entry: AuditEntry {
                sequence: r.sequence,
                movement_id: r.movement_id,
                dispenser_id: r.dispenser_id,
                pocket: r.pocket,
                medicine_id: r.medicine_id,
                kind: r.kind,
                delta: r.delta,
                balance: r.balance,
                actor: r.actor,
                reason: r.reason,
                created_at: r.created_at,
            },
            previous_hash: r.previous_hash,
            hash: r.hash,
        })
        .collect())
}

/// The newest audit sequence and hash, as the head records them.
pub async fn audit_head(db: impl PgExecutor<'_>) -> ServiceResult<(i64, Vec<u8>)> {
    Ok(sqlx::query_as("SELECT sequence, hash FROM audit_head")
        .fetch_one(db)
        .await?)
}

/// The pocket `code` of `dispenser_id`, locked; NOT_FOUND when the cabinet
/// has no such pocket.
pub async fn lock_existing_pocket(
    tx: &mut PgConnection,
    dispenser_id: Uuid,
    code: &PocketCode,
) -> ServiceResult<Pocket> {
    dispensers::lock_pocket(tx, dispenser_id, code)
        .await?
        .ok_or(ServiceError::NotFound { resource: "pocket" })
}
