//! Payment rules, free of I/O: the status machine, the hash-chained
//! transaction log, webhook signatures, and what a valid payment request is.

pub mod ledger;
pub mod signature;
pub mod status;

use rand::Rng;
use rand::distributions::Alphanumeric;

pub use status::Status;

/// Largest amount of one payment, in centavos (R$ 1.000.000,00).
pub const MAX_AMOUNT_CENTAVOS: i64 = 100_000_000;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 140;

/// A fresh Pix transaction id: 25 letters and digits (the most a static
/// BR Code's field 62-05 holds), unique with overwhelming probability.
pub fn new_txid() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(25)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn txids_fit_field_62_05() {
        let txid = super::new_txid();
        assert_eq!(txid.len(), 25);
        assert!(txid.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(txid, super::new_txid());
    }
}
