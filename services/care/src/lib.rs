//! Care (Asky): requests from the floor (medicine, material, assistance)
//! for a patient's bed, moved through FHIR Task statuses by the people
//! allowed to.
//!
//! This crate holds the workflow rule so far ([`domain`]). Its contract,
//! `malha.care.v1.CareService`, waits in `proto-next/malha/care/v1/` and
//! moves into `proto/` with the handlers, the schema and the `--target`
//! registration (see `proto-next/README.md`).

pub mod domain;

use malha_kit::auth::RolePermissions;

/// Care's own permission system. Nurses ask; pharmacists fulfil and watch;
/// staff read. Who may make which status change is finer than a permission
/// (the requester cancels their own request), so it is the domain's rule
/// ([`domain::workflow`]), checked after `care.read`.
pub static PERMISSIONS: RolePermissions = RolePermissions {
    service: "malha.care.v1.CareService",
    grants: &[
        ("admin", &["*"]),
        ("nurse", &["care.read", "care.request"]),
        ("pharmacist", &["care.read", "care.fulfil"]),
        ("employee", &["care.read"]),
    ],
};

#[cfg(test)]
mod tests {
    use super::PERMISSIONS;

    fn roles(role: &str) -> Vec<String> {
        vec![role.to_owned()]
    }

    #[test]
    fn each_role_gets_exactly_its_permissions() {
        let all = ["care.read", "care.request", "care.fulfil"];
        for permission in all {
            assert!(PERMISSIONS.allows(&roles("admin"), permission));
            assert!(!PERMISSIONS.allows(&roles("customer"), permission));
            assert!(!PERMISSIONS.allows(&roles("service"), permission));
        }
        assert!(PERMISSIONS.allows(&roles("nurse"), "care.request"));
        assert!(!PERMISSIONS.allows(&roles("nurse"), "care.fulfil"));
        assert!(PERMISSIONS.allows(&roles("pharmacist"), "care.fulfil"));
        assert!(!PERMISSIONS.allows(&roles("pharmacist"), "care.request"));
        assert!(PERMISSIONS.allows(&roles("employee"), "care.read"));
        assert!(!PERMISSIONS.allows(&roles("employee"), "care.request"));
    }
}
