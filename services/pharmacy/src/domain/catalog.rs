//! The catalogue: medicines and materials, and the limits of their fields.

use malha_kit::stored::StoredName;

/// Whether a stocked item is a medicine or a material. Pockets and ledger
/// rows name one of each table, so the kind travels with the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A medicine (possibly controlled).
    Medicine,
    /// A material (never controlled).
    Material,
}

impl StoredName for ItemKind {
    const KIND: &'static str = "item kind";
    const ALL: &'static [Self] = &[Self::Medicine, Self::Material];

    fn as_str(self) -> &'static str {
        match self {
            Self::Medicine => "medicine",
            Self::Material => "material",
        }
    }
}

/// The longest name of a medicine or material, and of an active ingredient.
pub const MAX_NAME: usize = 200;
/// The longest strength (`500 mg/mL`) and dosage form (`solução injetável`).
pub const MAX_FORM: usize = 100;
/// The longest unit (`ampola`, `comprimido`).
pub const MAX_UNIT: usize = 50;
/// The longest reason given for a movement.
pub const MAX_REASON: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<ItemKind>();
    }
}
