//! Pharmacy (Asky): medicines (a `controlled` flag for substances under
//! special control) and materials, electronic dispensing cabinets with
//! their pockets, an append-only stock ledger that never goes negative, and
//! a hash-chained audit trail of controlled movements.
//!
//! This crate holds the domain, the schema and the QR images
//! ([`qr_image`]) so far. Its contract,
//! `malha.pharmacy.v1.PharmacyService`, waits in
//! `proto-next/malha/pharmacy/v1/` and moves into `proto/` in the same change
//! that implements its handlers and registers the `--target` (the deploy
//! checks require every service of the contract to be a target).

pub mod domain;
pub mod qr_image;

use malha_kit::auth::RolePermissions;
use malha_kit::db::Schema;

/// The database schema and migrations of pharmacy.
pub static SCHEMA: Schema = Schema {
    name: "pharmacy",
    migrator: &MIGRATOR,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Pharmacy's own permission system. Anyone on the floor (nurses, staff)
/// reads the catalogue and finds where an item is kept; only pharmacists
/// keep the catalogue, the cabinets and their stock, and read the
/// controlled-substance audit; services (care) read with their own token.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.pharmacy.v1.PharmacyService",
    grants: &[
        ("admin", &["*"]),
        (
            "pharmacist",
            &[
                "pharmacy.read",
                "pharmacy.write",
                "pharmacy.stock",
                "pharmacy.audit",
            ],
        ),
        ("nurse", &["pharmacy.read"]),
        ("employee", &["pharmacy.read"]),
        ("service", &["pharmacy.read"]),
    ],
};

#[cfg(test)]
mod tests {
    use super::PERMISSIONS;

    fn roles(role: &str) -> Vec<String> {
        vec![role.to_owned()]
    }

    const ALL: [&str; 4] = [
        "pharmacy.read",
        "pharmacy.write",
        "pharmacy.stock",
        "pharmacy.audit",
    ];

    #[test]
    fn each_role_gets_exactly_its_permissions() {
        for permission in ALL {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
            assert!(PERMISSIONS.allows(&roles("pharmacist"), permission));
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
        }
        for role in ["nurse", "employee", "service"] {
            assert!(PERMISSIONS.allows(&roles(role), "pharmacy.read"), "{role}");
            for permission in &ALL[1..] {
                assert!(!PERMISSIONS.allows(&roles(role), permission), "{role}");
            }
        }
    }
}
