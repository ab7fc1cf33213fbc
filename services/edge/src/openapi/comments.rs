//! Comments from the `.proto` source (kept in the descriptor set's source
//! info) for OpenAPI summaries and descriptions.

use prost_reflect::FileDescriptor;

/// The leading comment of the element at `path` in `file`, cleaned up:
/// lines trimmed, paragraphs kept.
pub(crate) fn leading(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let cleaned = text
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// The first sentence (or line) of a comment, for a summary.
pub(crate) fn summary(comment: &str) -> String {
    let first_line_joined = comment
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace('\n', " ");
    match first_line_joined.find(". ") {
        Some(end) => first_line_joined[..=end].to_owned(),
        None => first_line_joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_read_from_source_info() {
        let pool = crate::pool();
        let login = pool
            .get_service_by_name("malha.identity.v1.IdentityService")
            .unwrap()
            .methods()
            .find(|m| m.name() == "Login")
            .unwrap();
        let comment = leading(&login.parent_file(), login.path()).unwrap();
        assert!(
            comment.starts_with("Exchanges a username and password"),
            "{comment}"
        );
    }

    #[test]
    fn summaries_are_the_first_sentence() {
        assert_eq!(summary("Does a thing. Then more."), "Does a thing.");
        assert_eq!(summary("Spans\ntwo lines"), "Spans two lines");
        assert_eq!(summary("One.\n\nTwo."), "One.");
    }
}
