//! Field masks for every `Update*` RPC: which paths a request names, checked
//! against the resource's descriptor, so each service only declares the
//! paths it lets a caller write.
//!
//! # The rules (AIP-134), the same for every update
//!
//! - **Explicit paths** name fields in proto (snake_case) naming:
//!   `legal_name`, `address.city`.
//! - **A message path** (`address`) stands for every updatable path under it.
//! - **`*`** stands for every updatable path: a full replacement, so a field
//!   the request leaves unset is written with its default (and checked like
//!   any other value, so a required one left empty is refused).
//! - **An empty or absent mask** stands for every updatable path whose value
//!   in the request is *set*: a scalar different from its default (non-empty
//!   string, non-zero number, `true`), a message that is present, a
//!   non-empty list. So without a mask a field cannot be cleared or set to
//!   `0`/`false`: name it in the mask for that. When nothing updatable is set
//!   either, the request is refused (`update_mask`: names no field).
//! - **A path that is not a field** of the resource, or one that is but may
//!   not be written (output only, changed by another RPC), or one inside a
//!   field that is only replaced whole (`start_time.seconds`), or an empty
//!   path: `INVALID_ARGUMENT`, field `update_mask`, the description naming
//!   the path. Every bad path is reported, not only the first.
//!
//! Handlers then ask [`Mask::has`] (or [`Mask::pick`]) for each field they
//! apply; asking for a path the RPC did not declare is a handler typo and
//! panics in debug builds, so tests catch it. Each service's unit test checks
//! its declaration against the contract with [`Updatable::undeclared_in`].

use std::collections::BTreeSet;

use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};

use crate::auth::rules::descriptor_pool;
use crate::validate::Violations;

/// The field every mask violation names.
const FIELD: &str = "update_mask";

/// The paths an `Update*` RPC lets a caller write, declared once per RPC.
#[derive(Debug, Clone, Copy)]
pub struct Updatable {
    /// Every writable path down to what is replaced whole: `name`,
    /// `address.city`, `contacts` (a list is replaced whole).
    pub paths: &'static [&'static str],
    /// Why a path that exists cannot be written, where another RPC does it
    /// (`("active", "use ActivateSupplier or DeactivateSupplier")`).
    pub hints: &'static [(&'static str, &'static str)],
}

/// The updatable paths a request's mask selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    selected: BTreeSet<&'static str>,
    /// What the RPC declared, so a handler asking for anything else is
    /// caught in tests.
    declared: &'static [&'static str],
}

impl Updatable {
    /// The writable `paths`, with no hints.
    pub const fn new(paths: &'static [&'static str]) -> Self {
        Self { paths, hints: &[] }
    }

    /// The same paths, with `hints` for paths that another RPC writes.
    pub const fn with_hints(self, hints: &'static [(&'static str, &'static str)]) -> Self {
        Self { hints, ..self }
    }

    /// The paths `mask` selects for an update of `resource` (the empty-mask
    /// rule reads `resource`); every bad path is recorded in `v`.
    pub fn resolve<M>(
        &self,
        v: &mut Violations,
        mask: Option<&prost_types::FieldMask>,
        resource: &M,
    ) -> Mask
    where
        M: prost::Message + prost::Name,
    {
        let descriptor = descriptor_pool().get_message_by_name(&M::full_name());
        if descriptor.is_none() {
            // Only possible for a type from outside the contract: a bug, but
            // not the caller's fault; every undeclared path is then refused.
            tracing::error!(message = %M::full_name(), "no descriptor for an updated resource");
        }
        let requested = mask.map_or(&[][..], |m| m.paths.as_slice());
        if requested.is_empty() {
            return self.implied(v, descriptor.as_ref(), resource);
        }
        let mut selected = BTreeSet::new();
        for path in requested {
            match self.select(descriptor.as_ref(), M::NAME, path) {
                Ok(paths) => selected.extend(paths),
                Err(problem) => v.add(FIELD, problem),
            }
        }
        Mask {
            selected,
            declared: self.paths,
        }
    }

    /// Every declared path or hint that is not a field path of `M`: a typo
    /// in a service's declaration. Each service's unit test asserts none.
    pub fn undeclared_in<M: prost::Name>(&self) -> Vec<&'static str> {
        let Some(descriptor) = descriptor_pool().get_message_by_name(&M::full_name()) else {
            return self.paths.to_vec();
        };
        self.paths
            .iter()
            .chain(self.hints.iter().map(|(path, _)| path))
            .copied()
            .filter(|path| !is_field_path(&descriptor, path))
            .collect()
    }

    /// The declared paths that `path` names, or what is wrong with it.
    fn select(
        &self,
        descriptor: Option<&MessageDescriptor>,
        resource: &str,
        path: &str,
    ) -> Result<Vec<&'static str>, String> {
        if path == "*" {
            return Ok(self.paths.to_vec());
        }
        if path.is_empty() {
            return Err("an empty path".into());
        }
        let under: Vec<&'static str> = self
            .paths
            .iter()
            .copied()
            .filter(|declared| is_within(declared, path))
            .collect();
        if !under.is_empty() {
            return Ok(under);
        }
        if descriptor.is_some_and(|d| !is_field_path(d, path)) {
            return Err(format!("{path:?} is not a field of {resource}"));
        }
        if let Some(whole) = self.paths.iter().find(|declared| is_within(path, declared)) {
            return Err(format!(
                "{path:?} is inside {whole:?}, which is replaced whole; name {whole:?}"
            ));
        }
        Err(
            match self.hints.iter().find(|(hinted, _)| *hinted == path) {
                Some((_, hint)) => format!("{path:?} cannot be updated; {hint}"),
                None => format!("{path:?} cannot be updated"),
            },
        )
    }

    /// The empty-mask rule: every declared path set in `resource`.
    fn implied<M: prost::Message>(
        &self,
        v: &mut Violations,
        descriptor: Option<&MessageDescriptor>,
        resource: &M,
    ) -> Mask {
        let message = descriptor.and_then(|d| {
            DynamicMessage::decode(d.clone(), resource.encode_to_vec().as_slice()).ok()
        });
        let selected: BTreeSet<&'static str> = match &message {
            Some(message) => self
                .paths
                .iter()
                .copied()
                .filter(|path| is_set(message, path))
                .collect(),
            None => BTreeSet::new(),
        };
        if selected.is_empty() {
            v.add(
                FIELD,
                "names no field, and the request sets no field that can be updated",
            );
        }
        Mask {
            selected,
            declared: self.paths,
        }
    }
}

impl Mask {
    /// Whether the update writes `path`, or anything under it (`address`
    /// when `address.city` is selected).
    pub fn has(&self, path: &str) -> bool {
        debug_assert!(
            self.declared
                .iter()
                .any(|declared| is_within(declared, path)),
            "{path:?} is not a declared updatable path: a typo in the handler"
        );
        self.selected
            .iter()
            .any(|selected| is_within(selected, path))
    }

    /// `requested` when the update writes `path`, otherwise `current`: how a
    /// handler merges the request into the stored resource.
    pub fn pick<T>(&self, path: &str, requested: T, current: T) -> T {
        if self.has(path) { requested } else { current }
    }

    /// Whether the update writes nothing (only after a refused mask).
    pub fn is_empty(&self) -> bool {
        self.selected.is_empty()
    }

    /// The selected paths, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.selected.iter().copied()
    }
}

/// Whether `path` is `outer` or lies under it (`address.city` in `address`).
fn is_within(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Whether every segment of `path` names a field, each but the last a
/// singular message.
fn is_field_path(descriptor: &MessageDescriptor, path: &str) -> bool {
    let mut current = descriptor.clone();
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Some(field) = current.get_field_by_name(segment) else {
            return false;
        };
        if segments.peek().is_none() {
            return true;
        }
        match field.kind() {
            prost_reflect::Kind::Message(inner) if !field.is_list() && !field.is_map() => {
                current = inner;
            }
            _ => return false,
        }
    }
    false
}

/// Whether `path` is set in `message`: present, non-default or non-empty.
fn is_set(message: &DynamicMessage, path: &str) -> bool {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    let Some(field) = message.descriptor().get_field_by_name(head) else {
        return false;
    };
    if !message.has_field(&field) {
        return false;
    }
    match rest {
        None => true,
        Some(rest) => message
            .get_field(&field)
            .as_message()
            .is_some_and(|inner| is_set(inner, rest)),
    }
}

#[cfg(test)]
mod tests {
    use malha_api::malha::suppliers::v1::{Address, Contact, Supplier};
    use prost_types::FieldMask;

    use super::*;
    use crate::error::ServiceError;

    const SUPPLIER: Updatable = Updatable::new(&[
        "legal_name",
        "trade_name",
        "cnpj",
        "contacts",
        "address.street",
        "address.city",
        "address.postal_code",
    ])
    .with_hints(&[("active", "use ActivateSupplier")]);

    fn mask(paths: &[&str]) -> Option<FieldMask> {
        Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    /// The mask, or the descriptions of every violation.
    fn resolve(
        mask: Option<FieldMask>,
        supplier: &Supplier,
    ) -> Result<Vec<&'static str>, Vec<String>> {
        let mut v = Violations::new();
        let resolved = SUPPLIER.resolve(&mut v, mask.as_ref(), supplier);
        match v.finish() {
            Ok(()) => Ok(resolved.paths().collect()),
            Err(ServiceError::InvalidArgument(all)) => {
                assert!(all.iter().all(|f| f.field == FIELD), "{all:?}");
                Err(all.into_iter().map(|f| f.description).collect())
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn explicit_and_nested_paths_select_themselves() {
        let paths = resolve(
            mask(&["cnpj", "address.city", "cnpj"]),
            &Supplier::default(),
        );
        assert_eq!(paths.unwrap(), ["address.city", "cnpj"]);
    }

    #[test]
    fn a_message_path_selects_everything_under_it() {
        let paths = resolve(mask(&["address"]), &Supplier::default()).unwrap();
        assert_eq!(
            paths,
            ["address.city", "address.postal_code", "address.street"]
        );
        let mut v = Violations::new();
        let m = SUPPLIER.resolve(
            &mut v,
            mask(&["address.city"]).as_ref(),
            &Supplier::default(),
        );
        assert!(m.has("address") && m.has("address.city") && !m.has("address.street"));
        assert!(
            !is_within("address.city", "address.cit"),
            "a prefix of a name is not a parent"
        );
    }

    #[test]
    #[should_panic(expected = "not a declared updatable path")]
    #[cfg(debug_assertions)]
    fn a_handler_asking_for_an_undeclared_path_is_caught_in_tests() {
        let mut v = Violations::new();
        let m = SUPPLIER.resolve(&mut v, mask(&["*"]).as_ref(), &Supplier::default());
        let _ = m.has("legal_nmae");
    }

    #[test]
    fn declared_paths_are_checked_against_the_contract() {
        assert!(SUPPLIER.undeclared_in::<Supplier>().is_empty());
        const TYPO: Updatable = Updatable::new(&["legal_nmae", "address.cty"])
            .with_hints(&[("actve", "a hint for nothing")]);
        assert_eq!(
            TYPO.undeclared_in::<Supplier>(),
            ["legal_nmae", "address.cty", "actve"]
        );
    }

    #[test]
    fn star_selects_every_updatable_path() {
        let paths = resolve(mask(&["*"]), &Supplier::default()).unwrap();
        assert_eq!(paths.len(), SUPPLIER.paths.len());
    }

    #[test]
    fn every_bad_path_is_named() {
        let problems = resolve(
            mask(&[
                "legal_name",
                "colour",
                "address.planet",
                "id",
                "active",
                "",
                "contacts.0",
            ]),
            &Supplier::default(),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert!(problems[0].contains("\"colour\" is not a field of Supplier"));
        assert!(problems[1].contains("\"address.planet\" is not a field"));
        assert_eq!(problems[2], "\"id\" cannot be updated");
        assert_eq!(
            problems[3],
            "\"active\" cannot be updated; use ActivateSupplier"
        );
        assert_eq!(problems[4], "an empty path");
        assert!(problems[5].contains("\"contacts.0\" is not a field"));
    }

    #[test]
    fn a_path_inside_a_field_replaced_whole_is_refused() {
        use malha_api::malha::projects::v1::Project;
        const PROJECT: Updatable = Updatable::new(&["name", "start_time"]);
        let mut v = Violations::new();
        let m = PROJECT.resolve(
            &mut v,
            mask(&["start_time.seconds"]).as_ref(),
            &Project::default(),
        );
        assert!(m.is_empty());
        let Err(ServiceError::InvalidArgument(all)) = v.finish() else {
            panic!("expected a violation")
        };
        assert_eq!(
            all[0].description,
            "\"start_time.seconds\" is inside \"start_time\", which is replaced whole; name \"start_time\""
        );
    }

    #[test]
    fn a_field_that_exists_but_is_not_declared_cannot_be_updated() {
        // `address.state` is a field of Supplier but not in SUPPLIER's paths.
        let problems = resolve(mask(&["address.state"]), &Supplier::default()).unwrap_err();
        assert_eq!(problems, ["\"address.state\" cannot be updated"]);
    }

    #[test]
    fn an_empty_or_absent_mask_selects_what_the_request_sets() {
        let supplier = Supplier {
            id: "ignored: not updatable".into(),
            trade_name: "Madeira Boa".into(),
            contacts: vec![Contact::default()],
            address: Some(Address {
                city: "Recife".into(),
                state: "PE".into(),
                ..Address::default()
            }),
            active: true,
            ..Supplier::default()
        };
        for absent in [None, mask(&[])] {
            let paths = resolve(absent, &supplier).unwrap();
            assert_eq!(paths, ["address.city", "contacts", "trade_name"]);
        }
    }

    #[test]
    fn an_empty_mask_with_nothing_set_is_refused() {
        let problems = resolve(None, &Supplier::default()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("names no field"));
    }
}
