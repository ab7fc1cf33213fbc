//! The tamper-evident transaction log: each entry stores
//! `SHA-256(previous hash ‖ canonical encoding of the entry)`, the first
//! entry chaining from 32 zero bytes, sequences running 1, 2, 3... without
//! gaps. Editing, deleting or reordering an entry breaks a link that
//! [`ChainCheck`] finds; dropping the newest entries is caught by the head.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use malha_kit::stored::StoredName;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash the first entry chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// What an entry says, in the fields its hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub sequence: i64,
    pub id: Uuid,
    pub payment_id: Uuid,
    /// A [`Kind`]'s stored name. Kept as the stored text: the hash covers
    /// that text, and the chain check must verify an entry of a kind this
    /// build does not know as well as any other.
    pub kind: String,
    pub amount_centavos: i64,
    pub actor: String,
    pub detail: String,
    /// Stored with microsecond precision (PostgreSQL's), hashed the same way.
    pub created_at: DateTime<Utc>,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Created,
    Notified,
    Approved,
    Rejected,
    Expired,
    Refunded,
}

impl StoredName for Kind {
    const KIND: &'static str = "transaction kind";
    const ALL: &'static [Self] = &[
        Self::Created,
        Self::Notified,
        Self::Approved,
        Self::Rejected,
        Self::Expired,
        Self::Refunded,
    ];

    fn as_str(self) -> &'static str {
        Kind::as_str(self)
    }
}

impl Kind {
    /// The stored name (also here, not only in [`StoredName`], so that
    /// writers need no trait import).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Notified => "notified",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
        }
    }
}

/// Now, at the precision the database keeps.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Entry {
    /// An unambiguous byte encoding: a version tag, then every field as
    /// `name=<byte length>:<value>;`, so no two entries encode alike.
    pub fn canonical(&self) -> Vec<u8> {
        let fields = [
            ("sequence", self.sequence.to_string()),
            ("id", self.id.to_string()),
            ("payment_id", self.payment_id.to_string()),
            ("kind", self.kind.clone()),
            ("amount_centavos", self.amount_centavos.to_string()),
            ("actor", self.actor.clone()),
            ("detail", self.detail.clone()),
            (
                "created_at",
                self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            ),
        ];
        let mut out = b"malha.payments.ledger.v1;".to_vec();
        for (name, value) in fields {
            out.extend_from_slice(format!("{name}={}:", value.len()).as_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b';');
        }
        out
    }

    /// The hash of this entry chained after `previous`.
    pub fn chain(&self, previous: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(self.canonical());
        hasher.finalize().into()
    }
}

/// A stored entry with its links.
#[derive(Debug, Clone)]
pub struct Linked {
    pub entry: Entry,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The sequence of the entry where the chain breaks.
    pub sequence: i64,
    /// Its id, when the entry exists.
    pub id: Option<Uuid>,
    pub problem: String,
}

/// Walks the log in sequence order and stops at the first broken link.
#[derive(Debug)]
pub struct ChainCheck {
    expected: i64,
    previous: Vec<u8>,
    checked: i64,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainCheck {
    /// A check starting at the genesis.
    pub fn new() -> Self {
        Self {
            expected: 1,
            previous: GENESIS.to_vec(),
            checked: 0,
        }
    }

    /// Entries checked so far.
    pub fn checked(&self) -> i64 {
        self.checked
    }

    /// Checks the next entry.
    pub fn next(&mut self, linked: &Linked) -> Result<(), Broken> {
        let broken = |problem: String| Broken {
            sequence: linked.entry.sequence,
            id: Some(linked.entry.id),
            problem,
        };
        if linked.entry.sequence != self.expected {
            return Err(Broken {
                sequence: self.expected,
                id: None,
                problem: format!(
                    "entry {} is missing (the next one stored is {})",
                    self.expected, linked.entry.sequence
                ),
            });
        }
        if linked.previous_hash != self.previous {
            return Err(broken(format!(
                "its previous hash does not match entry {}",
                self.expected - 1
            )));
        }
        if linked.entry.chain(&self.previous).as_slice() != linked.hash.as_slice() {
            return Err(broken(
                "its content does not match its hash (edited)".into(),
            ));
        }
        self.previous.clone_from(&linked.hash);
        self.expected += 1;
        self.checked += 1;
        Ok(())
    }

    /// Checks the end of the walk against the stored head (the newest
    /// sequence and hash), which catches entries dropped from the end.
    pub fn finish(&self, head_sequence: i64, head_hash: &[u8]) -> Result<(), Broken> {
        let last = self.expected - 1;
        if head_sequence != last {
            return Err(Broken {
                sequence: last + 1,
                id: None,
                problem: format!("the log ends at entry {last} but its head says {head_sequence}"),
            });
        }
        if head_hash != self.previous.as_slice() {
            return Err(Broken {
                sequence: last,
                id: None,
                problem: "the newest entry's hash does not match the head".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_an_unknown_one_is_an_error() {
        malha_kit::stored::assert_round_trips::<Kind>();
        // A kind a newer build wrote is never read as UNSPECIFIED or as
        // another kind.
        let unknown = Kind::from_stored("chargeback").unwrap_err();
        assert_eq!(unknown.kind, "transaction kind");
        assert_eq!(unknown.value, "chargeback");
    }

    fn chain_of(n: i64) -> Vec<Linked> {
        let payment = Uuid::now_v7();
        let mut previous = GENESIS.to_vec();
        (1..=n)
            .map(|sequence| {
                let entry = Entry {
                    sequence,
                    id: Uuid::now_v7(),
                    payment_id: payment,
                    kind: Kind::ALL[(sequence as usize - 1) % Kind::ALL.len()]
                        .as_str()
                        .into(),
                    amount_centavos: 1250,
                    actor: "customer:1".into(),
                    detail: format!("step {sequence}"),
                    created_at: now(),
                };
                let hash = entry.chain(&previous).to_vec();
                let linked = Linked {
                    entry,
                    previous_hash: previous.clone(),
                    hash: hash.clone(),
                };
                previous = hash;
                linked
            })
            .collect()
    }

    fn check(chain: &[Linked]) -> Result<i64, Broken> {
        let mut check = ChainCheck::new();
        for linked in chain {
            check.next(linked)?;
        }
        let head = chain.last().map_or(GENESIS.to_vec(), |l| l.hash.clone());
        check.finish(chain.len() as i64, &head)?;
        Ok(check.checked())
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(check(&chain_of(6)), Ok(6));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn an_edited_entry_is_pointed_at() {
        let mut chain = chain_of(5);
        chain[2].entry.amount_centavos = 1;
        let broken = check(&chain).unwrap_err();
        assert_eq!(broken.sequence, 3);
        assert_eq!(broken.id, Some(chain[2].entry.id));
        assert!(broken.problem.contains("edited"), "{broken:?}");
    }

    #[test]
    fn a_rehashed_edit_breaks_the_next_link() {
        let mut chain = chain_of(5);
        chain[2].entry.detail = "forged".into();
        chain[2].hash = chain[2].entry.chain(&chain[2].previous_hash).to_vec();
        let broken = check(&chain).unwrap_err();
        assert_eq!(broken.sequence, 4);
        assert!(broken.problem.contains("previous hash"), "{broken:?}");
    }

    #[test]
    fn deleted_entries_are_found_in_the_middle_and_at_the_end() {
        let mut chain = chain_of(5);
        chain.remove(1);
        assert_eq!(check(&chain).unwrap_err().sequence, 2);

        let chain = chain_of(5);
        let head = chain[4].hash.clone();
        let mut check = ChainCheck::new();
        for linked in &chain[..4] {
            check.next(linked).unwrap();
        }
        assert_eq!(check.finish(5, &head).unwrap_err().sequence, 5);
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        let a = &chain_of(1)[0].entry;
        let mut b = a.clone();
        b.actor = format!("{};detail=3:x", a.actor);
        assert_ne!(a.canonical(), b.canonical());
        let mut c = a.clone();
        c.created_at += chrono::Duration::microseconds(1);
        assert_ne!(a.chain(&GENESIS), c.chain(&GENESIS));
    }
}
