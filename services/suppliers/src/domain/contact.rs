//! Formats of a supplier contact's e-mail and phone, and how many contacts
//! a supplier may list.

/// Contacts per supplier.
pub const MAX_CONTACTS: usize = 20;

/// An e-mail address in its plain `local@domain.tld` shape.
pub fn email_problem(email: &str) -> Option<&'static str> {
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    (!valid).then_some("not an e-mail address")
}

/// A phone number: 8 to 15 digits (E.164's longest), an optional leading
/// `+`, and spaces, dots, dashes or parentheses between them:
/// `+55 (11) 91234-5678`, `(11) 3333-4444`, `0800 123 4567`.
pub fn phone_problem(phone: &str) -> Option<&'static str> {
    let body = phone.strip_prefix('+').unwrap_or(phone);
    let mut digits = 0;
    for c in body.chars() {
        match c {
            '0'..='9' => digits += 1,
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return Some("digits, an optional leading +, spaces, . - ( ) only"),
        }
    }
    (!(8..=15).contains(&digits)).then_some("8 to 15 digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email_problem("vendas@acos-brasil.com.br"), None);
        for bad in [
            "",
            "vendas",
            "@x.com",
            "a@b",
            "a@.com",
            "a@x.",
            "a b@x.com",
            "a@b@x.com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn phones() {
        for good in [
            "+55 (11) 91234-5678",
            "(11) 3333-4444",
            "0800 123 4567",
            "33334444",
        ] {
            assert_eq!(phone_problem(good), None, "{good:?}");
        }
        assert_eq!(phone_problem("3333-444"), Some("8 to 15 digits"));
        assert_eq!(
            phone_problem("+55 11 91234 5678 9999"),
            Some("8 to 15 digits")
        );
        assert!(phone_problem("11 9123x-5678").is_some());
        assert!(phone_problem("11 +91234-5678").is_some(), "+ only first");
    }
}
