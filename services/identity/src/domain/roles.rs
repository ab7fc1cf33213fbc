//! The roles identity grants. Each service maps them to its own permissions.

/// Administers everything.
pub const ADMIN: &str = "admin";
/// Staff: clinic, pharmacy, kitchen, production.
pub const EMPLOYEE: &str = "employee";
/// Asky's floor staff: asks pharmacy for medicine, material and assistance.
pub const NURSE: &str = "nurse";
/// Asky's pharmacy staff: keeps the catalogue and the cabinets, fulfils the
/// floor's requests.
pub const PHARMACIST: &str = "pharmacist";
/// A customer's own session: registered (`RegisterCustomer`) or anonymous.
pub const CUSTOMER: &str = "customer";
/// A session opened by `IdentifyCustomer`: whoever knows a CPF (it is
/// printed on receipts) gets it, so it may place orders and follow the ones
/// placed in this session, nothing more (no personal data, no other orders).
pub const CUSTOMER_IDENTIFIED: &str = "customer.identified";
/// A service calling another with its own token.
pub const SERVICE: &str = "service";
/// Clinic reception: issues and calls tickets at the front desks.
pub const RECEPTIONIST: &str = "receptionist";
/// A clinic doctor: calls and attends patients in a consulting room.
pub const DOCTOR: &str = "doctor";
/// A clinic's ticket kiosk (a service account): reads its unit and issues
/// tickets, nothing else, since anyone standing at it could take its token.
pub const TOTEM: &str = "totem";

/// Roles a user account or service account may hold.
pub const ASSIGNABLE: [&str; 8] = [
    ADMIN,
    EMPLOYEE,
    NURSE,
    PHARMACIST,
    SERVICE,
    RECEPTIONIST,
    DOCTOR,
    TOTEM,
];

/// Validates and normalises a role list: known roles, no duplicates, sorted.
pub fn parse_roles(roles: &[String]) -> Result<Vec<String>, String> {
    if roles.is_empty() {
        return Err("at least one role is required".into());
    }
    let mut out: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        let role = role.trim().to_ascii_lowercase();
        if !ASSIGNABLE.contains(&role.as_str()) {
            return Err(format!(
                "unknown role {role:?}; expected one of {}",
                ASSIGNABLE.join(", ")
            ));
        }
        if !out.contains(&role) {
            out.push(role);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses_unknown_roles() {
        assert_eq!(
            parse_roles(&["Employee".into(), "admin".into(), "admin".into()]).unwrap(),
            ["admin", "employee"]
        );
        assert_eq!(
            parse_roles(&["Pharmacist".into(), "nurse".into()]).unwrap(),
            ["nurse", "pharmacist"]
        );
        assert_eq!(
            parse_roles(&["doctor".into(), "Receptionist".into()]).unwrap(),
            ["doctor", "receptionist"]
        );
        assert!(parse_roles(&[]).is_err());
        assert!(parse_roles(&["root".into()]).is_err());
        assert!(
            parse_roles(&["customer".into()]).is_err(),
            "customers are not users"
        );
    }
}
