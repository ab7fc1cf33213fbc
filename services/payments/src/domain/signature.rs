//! Webhook signatures, MercadoPago's `x-signature` scheme: the header
//! `ts=<timestamp>,v1=<hex HMAC-SHA256>`, where the HMAC (keyed with the
//! webhook secret) covers the manifest
//! `id:<data.id>;request-id:<x-request-id>;ts:<ts>;` (data.id lowercased).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far a notification's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The parts of an `x-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The `ts` value as sent (seconds or milliseconds since the epoch).
    pub ts: String,
    /// The `v1` HMAC, decoded from hex.
    pub v1: Vec<u8>,
}

/// Why a notification's signature does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no webhook secret is configured")]
    NotConfigured,
    #[error("missing x-signature or x-request-id")]
    Missing,
    #[error("x-signature is not ts=...,v1=...")]
    Malformed,
    #[error("the signature does not match")]
    Mismatch,
    #[error("the timestamp is outside the accepted window")]
    Stale,
}

/// Reads `ts=...,v1=...` (parts in any order, spaces allowed).
pub fn parse_header(value: &str) -> Result<SignatureHeader, Refusal> {
    let mut ts = None;
    let mut v1 = None;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("ts", t)) => ts = Some(t.trim().to_owned()),
            Some(("v1", h)) => v1 = Some(hex::decode(h.trim()).map_err(|_| Refusal::Malformed)?),
            _ => {}
        }
    }
    match (ts, v1) {
        (Some(ts), Some(v1)) if !ts.is_empty() && !v1.is_empty() => Ok(SignatureHeader { ts, v1 }),
        _ => Err(Refusal::Malformed),
    }
}

/// The signed manifest. `extra` is appended verbatim (the local provider
/// signs its stated outcome too).
pub fn manifest(data_id: &str, request_id: &str, ts: &str, extra: &str) -> String {
    format!(
        "id:{};request-id:{request_id};ts:{ts};{extra}",
        data_id.to_lowercase()
    )
}

/// Hex HMAC-SHA256 of `manifest` under `secret`.
pub fn sign(secret: &[u8], manifest: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(manifest.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `x-signature` header for `manifest` at `ts`.
pub fn header(secret: &[u8], ts: &str, manifest: &str) -> String {
    format!("ts={ts},v1={}", sign(secret, manifest))
}

/// Checks `header` against the manifest built from it, in constant time,
/// and that its timestamp is within [`TOLERANCE_SECONDS`] of `now`.
pub fn verify(
    secret: &[u8],
    header: &SignatureHeader,
    manifest: &str,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| Refusal::NotConfigured)?;
    mac.update(manifest.as_bytes());
    mac.verify_slice(&header.v1)
        .map_err(|_| Refusal::Mismatch)?;
    if !is_fresh(&header.ts, now) {
        return Err(Refusal::Stale);
    }
    Ok(())
}

/// True when `ts` (seconds, or milliseconds when it has 13+ digits) is
/// within the tolerance of `now`.
pub fn is_fresh(ts: &str, now: DateTime<Utc>) -> bool {
    let Ok(value) = ts.parse::<i64>() else {
        return false;
    };
    let seconds = if ts.len() >= 13 { value / 1000 } else { value };
    (now.timestamp() - seconds).abs() <= TOLERANCE_SECONDS
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"your-secret-key";

    #[test]
    fn a_signed_manifest_verifies_and_a_changed_one_does_not() {
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let manifest = manifest("ABC123", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e", &ts, "");
        assert_eq!(
            manifest,
            format!("id:abc123;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:{ts};")
        );
        let header = parse_header(&header(SECRET, &ts, &manifest)).unwrap();
        assert_eq!(verify(SECRET, &header, &manifest, now), Ok(()));
        assert_eq!(
            verify(b"another secret", &header, &manifest, now),
            Err(Refusal::Mismatch)
        );
        let other = manifest.replace("abc123", "abc124");
        assert_eq!(verify(SECRET, &header, &other, now), Err(Refusal::Mismatch));
    }

    #[test]
    fn known_hmac_sha256_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn headers_are_parsed_in_any_order_and_garbage_is_refused() {
        let parsed = parse_header("v1=00ff, ts=1704908010").unwrap();
        assert_eq!(parsed.ts, "1704908010");
        assert_eq!(parsed.v1, [0x00, 0xff]);
        assert_eq!(parse_header("ts=1"), Err(Refusal::Malformed));
        assert_eq!(parse_header("ts=1,v1=zz"), Err(Refusal::Malformed));
        assert_eq!(parse_header(""), Err(Refusal::Malformed));
    }

    #[test]
    fn old_or_future_timestamps_are_stale() {
        let now = DateTime::from_timestamp(1_704_908_010, 0).unwrap();
        assert!(is_fresh("1704908010", now));
        assert!(is_fresh("1704908010123", now));
        assert!(is_fresh("1704907800", now));
        assert!(!is_fresh("1704907000", now));
        assert!(!is_fresh("1704909000", now));
        assert!(!is_fresh("soon", now));
        let manifest = manifest("1", "r", "1704907000", "");
        let header = parse_header(&header(SECRET, "1704907000", &manifest)).unwrap();
        assert_eq!(verify(SECRET, &header, &manifest, now), Err(Refusal::Stale));
    }
}
