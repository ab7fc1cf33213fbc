//! The audit trail of controlled medicines (Portaria 344/98): every
//! movement of a `controlled` medicine, chained by hash with the kit's
//! [`malha_kit::chain`], so an edited, deleted or reordered entry is found
//! by `VerifyAudit`.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use uuid::Uuid;

pub use malha_kit::chain::{Broken, ChainCheck, GENESIS};

/// What an audit entry says, in the fields its hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its place in the chain, from 1.
    pub sequence: i64,
    /// The movement it records.
    pub movement_id: Uuid,
    pub dispenser_id: Uuid,
    pub pocket: String,
    pub medicine_id: Uuid,
    /// The movement kind's stored name.
    pub kind: String,
    /// The change to the pocket.
    pub delta: i64,
    /// The pocket's quantity after it.
    pub balance: i64,
    pub actor: String,
    pub reason: String,
    /// Stored with microsecond precision (PostgreSQL's), hashed the same way.
    pub created_at: DateTime<Utc>,
}

/// Now, at the precision the database keeps.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl AuditEntry {
    /// The entry's unambiguous encoding, version-tagged.
    pub fn canonical(&self) -> Vec<u8> {
        malha_kit::chain::canonical(
            b"malha.pharmacy.audit.v1;",
            &[
                ("sequence", self.sequence.to_string()),
                ("movement_id", self.movement_id.to_string()),
                ("dispenser_id", self.dispenser_id.to_string()),
                ("pocket", self.pocket.clone()),
                ("medicine_id", self.medicine_id.to_string()),
                ("kind", self.kind.clone()),
                ("delta", self.delta.to_string()),
                ("balance", self.balance.to_string()),
                ("actor", self.actor.clone()),
                ("reason", self.reason.clone()),
                (
                    "created_at",
                    self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                ),
            ],
        )
    }

    /// The hash of this entry chained after `previous`.
    pub fn chain(&self, previous: &[u8]) -> [u8; 32] {
        malha_kit::chain::link(previous, &self.canonical())
    }
}

/// A stored audit entry with its links.
#[derive(Debug, Clone)]
pub struct LinkedEntry {
    pub entry: AuditEntry,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl malha_kit::chain::Linked for LinkedEntry {
    fn sequence(&self) -> i64 {
        self.entry.sequence
    }
    fn id(&self) -> Uuid {
        self.entry.movement_id
    }
    fn previous_hash(&self) -> &[u8] {
        &self.previous_hash
    }
    fn hash(&self) -> &[u8] {
        &self.hash
    }
    fn rehash(&self, previous: &[u8]) -> [u8; 32] {
        self.entry.chain(previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(n: i64) -> Vec<LinkedEntry> {
        let (dispenser, medicine) = (Uuid::now_v7(), Uuid::now_v7());
        let mut previous = GENESIS.to_vec();
        (1..=n)
            .map(|sequence| {
                let entry = AuditEntry {
                    sequence,
                    movement_id: Uuid::now_v7(),
                    dispenser_id: dispenser,
                    pocket: "A-01".into(),
                    medicine_id: medicine,
                    kind: if sequence == 1 { "restock" } else { "dispense" }.into(),
                    delta: if sequence == 1 { 10 } else { -1 },
                    balance: 10 - (sequence - 1),
                    actor: "user:caio".into(),
                    reason: format!("step {sequence}"),
                    created_at: now(),
                };
                let hash = entry.chain(&previous).to_vec();
                let linked = LinkedEntry {
                    entry,
                    previous_hash: previous.clone(),
                    hash: hash.clone(),
                };
                previous = hash;
                linked
            })
            .collect()
    }

    fn verify(trail: &[LinkedEntry]) -> Result<i64, Broken> {
        let mut check = ChainCheck::new();
        for linked in trail {
            check.next(linked)?;
        }
        let head = trail.last().map_or(GENESIS.to_vec(), |l| l.hash.clone());
        check.finish(trail.len() as i64, &head)?;
        Ok(check.checked())
    }

    #[test]
    fn an_intact_trail_verifies() {
        assert_eq!(verify(&trail(4)), Ok(4));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn an_edited_quantity_is_pointed_at() {
        let mut trail = trail(4);
        trail[2].entry.delta = -2;
        let broken = verify(&trail).unwrap_err();
        assert_eq!(broken.sequence, 3);
        assert_eq!(broken.id, Some(trail[2].entry.movement_id));
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let mut trail = trail(4);
        trail.remove(1);
        assert_eq!(verify(&trail).unwrap_err().sequence, 2);
    }

    #[test]
    fn the_trail_and_payments_ledger_never_hash_alike() {
        // The version tag names the log, so an entry cannot be replayed from
        // one log into the other.
        let entry = &trail(1)[0].entry;
        assert!(entry.canonical().starts_with(b"malha.pharmacy.audit.v1;"));
    }
}
