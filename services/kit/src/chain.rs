//! Hash chains for tamper-evident logs (payments' transaction log,
//! pharmacy's controlled-substance audit): each entry stores
//! `SHA-256(previous hash ‖ canonical encoding of the entry)`, the first
//! chaining from [`GENESIS`], sequences running 1, 2, 3... without gaps.
//! Editing, deleting or reordering an entry breaks a link that
//! [`ChainCheck`] finds; dropping the newest entries is caught by the head.
//!
//! A service owns its entry type and its encoding's version tag; this module
//! owns the encoding rules and the walk, so both logs are checked alike.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash the first entry chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// An unambiguous byte encoding of an entry: `tag` (a version, such as
/// `malha.payments.ledger.v1;`), then every field as
/// `name=<byte length>:<value>;`, so no two entries encode alike however
/// their values are chosen.
pub fn canonical(tag: &[u8], fields: &[(&str, String)]) -> Vec<u8> {
    let mut out = tag.to_vec();
    for (name, value) in fields {
        out.extend_from_slice(format!("{name}={}:", value.len()).as_bytes());
        out.extend_from_slice(value.as_bytes());
        out.push(b';');
    }
    out
}

/// The hash of an entry encoded as `canonical`, chained after `previous`.
pub fn link(previous: &[u8], canonical: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(canonical);
    hasher.finalize().into()
}

/// A stored entry as the walk sees it.
pub trait Linked {
    /// Its place in the chain, from 1.
    fn sequence(&self) -> i64;
    /// Its id, for the report of a broken link.
    fn id(&self) -> Uuid;
    /// The hash stored as the previous entry's.
    fn previous_hash(&self) -> &[u8];
    /// The hash stored as its own.
    fn hash(&self) -> &[u8];
    /// Its hash recomputed from its content, chained after `previous`.
    fn rehash(&self, previous: &[u8]) -> [u8; 32];
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The sequence of the entry where the chain breaks.
    pub sequence: i64,
    /// Its id, when the entry exists.
    pub id: Option<Uuid>,
    /// What is wrong, for people.
    pub problem: String,
}

/// Walks a log in sequence order and stops at the first broken link.
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
    pub fn next(&mut self, linked: &impl Linked) -> Result<(), Broken> {
        let broken = |problem: String| Broken {
            sequence: linked.sequence(),
            id: Some(linked.id()),
            problem,
        };
        if linked.sequence() != self.expected {
            return Err(Broken {
                sequence: self.expected,
                id: None,
                problem: format!(
                    "entry {} is missing (the next one stored is {})",
                    self.expected,
                    linked.sequence()
                ),
            });
        }
        if linked.previous_hash() != self.previous {
            return Err(broken(format!(
                "its previous hash does not match entry {}",
                self.expected - 1
            )));
        }
        if linked.rehash(&self.previous).as_slice() != linked.hash() {
            return Err(broken(
                "its content does not match its hash (edited)".into(),
            ));
        }
        self.previous = linked.hash().to_vec();
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
    fn the_encoding_prefixes_every_value_with_its_length() {
        assert_eq!(
            canonical(b"t;", &[("a", "x;b=1:y".into()), ("b", String::new())]),
            b"t;a=7:x;b=1:y;b=0:;".to_vec()
        );
        assert_ne!(
            canonical(b"t;", &[("a", "1".into()), ("b", "23".into())]),
            canonical(b"t;", &[("a", "12".into()), ("b", "3".into())])
        );
    }

    #[test]
    fn a_link_depends_on_the_previous_hash() {
        assert_ne!(link(&GENESIS, b"x"), link(&[1; 32], b"x"));
        assert_eq!(link(&GENESIS, b"x"), link(&GENESIS, b"x"));
    }
}
