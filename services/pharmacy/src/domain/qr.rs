//! What a cabinet's QR code carries, and reading it back from a scan.
//!
//! The payload is a URL under a configurable base
//! (`https://asky.example/dispensers/<id>`), so a phone's camera opens the
//! cabinet's page; the id (a UUID) rather than the code, because a code may
//! be corrected while printed labels stay on the cabinet. `ResolveQr` also
//! takes the base-independent URN (`urn:malha:dispenser:<id>`) and any base,
//! so labels printed before a domain change still resolve.

use uuid::Uuid;

/// The URN prefix every payload can be reduced to.
pub const URN_PREFIX: &str = "urn:malha:dispenser:";

/// The URL a cabinet's QR code carries: `<base>/dispensers/<id>`.
pub fn payload(base_url: &str, dispenser_id: Uuid) -> String {
    format!(
        "{}/dispensers/{dispenser_id}",
        base_url.trim_end_matches('/')
    )
}

/// The cabinet a scanned payload names, or why it names none.
pub fn resolve(scanned: &str) -> Result<Uuid, &'static str> {
    let scanned = scanned.trim();
    let id = if let Some(rest) = strip_prefix_ignore_case(scanned, URN_PREFIX) {
        rest
    } else if scanned.starts_with("https://") || scanned.starts_with("http://") {
        // Drop a query or fragment a scanner app may have added.
        let path = scanned
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let mut segments = path.rsplit('/');
        let id = segments.next().unwrap_or_default();
        if segments.next() != Some("dispensers") {
            return Err("not a dispenser's QR code: expected <base>/dispensers/<id>");
        }
        id
    } else {
        return Err("not a dispenser's QR code: expected a URL or urn:malha:dispenser:<id>");
    };
    Uuid::parse_str(id).map_err(|_| "not a dispenser's QR code: the id is not a UUID")
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_resolves_to_its_cabinet() {
        let id = Uuid::now_v7();
        for base in ["http://localhost:8080", "https://asky.example/app/"] {
            assert_eq!(resolve(&payload(base, id)), Ok(id), "{base}");
        }
        assert_eq!(
            payload("https://asky.example/", id),
            format!("https://asky.example/dispensers/{id}")
        );
    }

    #[test]
    fn urns_queries_and_old_bases_resolve_too() {
        let id = Uuid::now_v7();
        assert_eq!(resolve(&format!("URN:MALHA:DISPENSER:{id}")), Ok(id));
        assert_eq!(
            resolve(&format!("https://old.example/dispensers/{id}/?utm=x#top")),
            Ok(id)
        );
    }

    #[test]
    fn anything_else_is_not_a_cabinet() {
        let id = Uuid::now_v7();
        assert!(resolve("").is_err());
        assert!(resolve("hello").is_err());
        assert!(resolve(&format!("https://asky.example/patients/{id}")).is_err());
        assert!(resolve("https://asky.example/dispensers/not-a-uuid").is_err());
        assert!(resolve("urn:malha:dispenser:").is_err());
        assert!(resolve(&format!("ftp://x/dispensers/{id}")).is_err());
    }
}
