//! The tamper-evident transaction log: each entry stores
//! `SHA-256(previous hash ‖ canonical encoding of the entry)`, the first
//! entry chaining from 32 zero bytes, sequences running 1, 2, 3... without
//! gaps. Editing, deleting or reordering an entry breaks a link that
//! [`ChainCheck`] finds; dropping the newest entries is caught by the head.
//! The chain itself is the kit's ([`malha_kit::chain`]), shared with
//! pharmacy's audit trail; this module owns the entry and its encoding.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use malha_kit::stored::StoredName;
use uuid::Uuid;

pub use malha_kit::chain::{Broken, ChainCheck, GENESIS};

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
    /// An unambiguous byte encoding (the kit's [`malha_kit::chain::canonical`]):
    /// a version tag, then every field as `name=<byte length>:<value>;`.
    pub fn canonical(&self) -> Vec<u8> {
        malha_kit::chain::canonical(
            b"malha.payments.ledger.v1;",
            &[
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
            ],
        )
    }

    /// The hash of this entry chained after `previous`.
    pub fn chain(&self, previous: &[u8]) -> [u8; 32] {
        malha_kit::chain::link(previous, &self.canonical())
    }
}

/// A stored entry with its links.
#[derive(Debug, Clone)]
pub struct Linked {
    pub entry: Entry,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl malha_kit::chain::Linked for Linked {
    fn sequence(&self) -> i64 {
        self.entry.sequence
    }
    fn id(&self) -> Uuid {
        self.entry.id
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
