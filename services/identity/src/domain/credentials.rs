//! Formats of usernames, passwords and e-mails.

/// A username: 3–64 of `a-z 0-9 . _ -`, starting with a letter.
pub fn username_problem(username: &str) -> Option<&'static str> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !(3..=64).contains(&username.len()) {
        Some("3 to 64 characters")
    } else if !ok_chars || !username.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("lowercase letters, digits, '.', '_' or '-', starting with a letter")
    } else {
        None
    }
}

/// A password: 8–256 characters (NIST SP 800-63B: length over composition).
pub fn password_problem(password: &str) -> Option<&'static str> {
    match password.chars().count() {
        0..8 => Some("at least 8 characters"),
        8..=256 => None,
        _ => Some("at most 256 characters"),
    }
}

/// An e-mail address in its plain `local@domain.tld` shape.
pub fn email_problem(email: &str) -> Option<&'static str> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.contains(char::is_whitespace)
        });
    (!valid).then_some("not an e-mail address")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username_problem("admin"), None);
        assert_eq!(username_problem("maria.silva-2"), None);
        assert!(username_problem("ab").is_some());
        assert!(username_problem("Admin").is_some());
        assert!(username_problem("1admin").is_some());
        assert!(username_problem("a b c").is_some());
    }

    #[test]
    fn passwords_and_emails() {
        assert!(password_problem("short").is_some());
        assert_eq!(password_problem("correct horse"), None);
        assert_eq!(email_problem("ana@clinica.com.br"), None);
        assert!(email_problem("ana@localhost").is_some());
        assert!(email_problem("@x.com").is_some());
        assert!(email_problem("a b@x.com").is_some());
    }
}
