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

/// A medicine to register, every field already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedicine {
    pub name: String,
    pub active_ingredient: String,
    pub strength: String,
    pub dosage_form: String,
    pub unit: String,
    pub controlled: bool,
}

/// The fields an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MedicinePatch {
    pub name: Option<String>,
    pub active_ingredient: Option<String>,
    pub strength: Option<String>,
    pub dosage_form: Option<String>,
    pub unit: Option<String>,
    pub controlled: Option<bool>,
}

/// A material to register, every field already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaterial {
    pub name: String,
    pub unit: String,
}

/// The fields an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaterialPatch {
    pub name: Option<String>,
    pub unit: Option<String>,
}

/// Why an item cannot be deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyInactive;

/// Deactivating takes an item off offer once: deactivating it again is a
/// mistake the caller hears about (an item is never deleted, because the
/// ledger references it).
pub fn deactivate(active: bool) -> Result<(), AlreadyInactive> {
    if active { Ok(()) } else { Err(AlreadyInactive) }
}

/// Whether `item` may be assigned to a pocket: only an active item (a
/// deactivated one is no longer offered, so nothing new should stock it).
pub fn may_be_stocked(active: bool) -> bool {
    active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_deactivated_once() {
        assert_eq!(deactivate(true), Ok(()));
        assert_eq!(deactivate(false), Err(AlreadyInactive));
        assert!(may_be_stocked(true));
        assert!(!may_be_stocked(false));
    }

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        malha_kit::stored::assert_round_trips::<ItemKind>();
    }
}
