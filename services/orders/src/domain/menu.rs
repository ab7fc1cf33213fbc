//! What a valid category and product are.

use malha_kit::validate::Violations;

/// Highest product price (R$ 10.000,00).
pub const MAX_PRICE_CENTAVOS: i64 = 1_000_000;

/// Checks a category's name and description (`prefix` is the field path).
pub fn check_category_text(
    v: &mut Violations,
    prefix: &str,
    name: Option<&str>,
    description: Option<&str>,
) {
    if let Some(name) = name {
        v.text(name, &format!("{prefix}.name"), 100);
    }
    if let Some(description) = description {
        v.check(
            description.chars().count() <= 500,
            &format!("{prefix}.description"),
            "at most 500 characters",
        );
    }
}

/// Checks a product price: 1 centavo to [`MAX_PRICE_CENTAVOS`].
pub fn check_price(v: &mut Violations, field: &str, centavos: i64) {
    v.check(
        (1..=MAX_PRICE_CENTAVOS).contains(&centavos),
        field,
        "between 1 and 1000000 centavos",
    );
}

/// Checks an image URL: empty, or an absolute http(s) URL without spaces.
pub fn check_image_url(v: &mut Violations, field: &str, url: &str) {
    if url.is_empty() {
        return;
    }
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    v.check(
        scheme_ok
            && url.len() <= 2048
            && !url.chars().any(char::is_whitespace)
            && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty()),
        field,
        "an http(s) URL of at most 2048 characters",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_urls() {
        let mut v = Violations::new();
        check_price(&mut v, "price", 1);
        check_price(&mut v, "price", MAX_PRICE_CENTAVOS);
        check_image_url(&mut v, "url", "");
        check_image_url(&mut v, "url", "https://cdn.example.com/x-burger.png");
        assert!(v.finish().is_ok());
        for bad in [0, -1, MAX_PRICE_CENTAVOS + 1] {
            let mut v = Violations::new();
            check_price(&mut v, "price", bad);
            assert!(v.finish().is_err(), "{bad}");
        }
        for bad in ["ftp://x", "https://", "javascript:alert(1)", "https://a b"] {
            let mut v = Violations::new();
            check_image_url(&mut v, "url", bad);
            assert!(v.finish().is_err(), "{bad}");
        }
    }
}
