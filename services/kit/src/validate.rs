//! Collects field violations so a handler reports every bad field at once.

use crate::error::{FieldViolation, ServiceError};

/// Accumulates violations; [`Violations::finish`] turns them into an error.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `field`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    /// Requires a non-blank string of at most `max` characters.
    pub fn text(&mut self, value: &str, field: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "required");
        } else if value.chars().count() > max {
            self.add(field, format!("at most {max} characters"));
        }
    }

    /// Parses an optional `request_id` (empty means none).
    pub fn request_id(&mut self, value: &str) -> Option<uuid::Uuid> {
        self.optional_uuid(value, "request_id")
    }

    /// Parses a required UUID field.
    pub fn uuid(&mut self, value: &str, field: &str) -> uuid::Uuid {
        match uuid::Uuid::parse_str(value) {
            Ok(id) => id,
            Err(_) => {
                self.add(
                    field,
                    if value.is_empty() {
                        "required"
                    } else {
                        "must be a UUID"
                    },
                );
                uuid::Uuid::nil()
            }
        }
    }

    /// Parses an optional UUID field (empty means none).
    pub fn optional_uuid(&mut self, value: &str, field: &str) -> Option<uuid::Uuid> {
        if value.is_empty() {
            return None;
        }
        let parsed = uuid::Uuid::parse_str(value).ok();
        if parsed.is_none() {
            self.add(field, "must be a UUID");
        }
        parsed
    }

    /// Ok when nothing was recorded, otherwise `INVALID_ARGUMENT` naming every field.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::InvalidArgument(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_bad_field_at_once() {
        let mut v = Violations::new();
        v.text("", "name", 10);
        v.text("abcdefghijkl", "email", 10);
        let _ = v.uuid("nope", "person_id");
        let Err(ServiceError::InvalidArgument(all)) = v.finish() else {
            panic!("expected invalid argument")
        };
        let fields: Vec<_> = all.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "person_id"]);
    }
}
