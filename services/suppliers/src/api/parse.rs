//! Proto → domain: every supplier field checked against its rule, every
//! violation named by its path in the request (`supplier.address.state`,
//! `supplier.contacts[1].email`), text trimmed, CNPJ/UF/CEP normalised.

use crate::domain::{Address, Cep, Cnpj, Contact, NewSupplier, SupplierPatch, Uf, contact};
use malha_api::malha::suppliers::v1 as pb;
use malha_kit::mask::{Mask, Updatable};
use malha_kit::validate::Violations;

/// Longest name (legal, trade, contact, product), in characters.
pub(super) const NAME_MAX: usize = 200;

/// A trimmed optional text of at most `max` characters.
pub(super) fn optional_text(v: &mut Violations, value: &str, field: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        v.add(field, format!("at most {max} characters"));
    }
    value.to_owned()
}

/// A trimmed required text of at most `max` characters.
pub(super) fn required_text(v: &mut Violations, value: &str, field: &str, max: usize) -> String {
    v.text(value, field, max);
    value.trim().to_owned()
}

/// A CNPJ in any accepted spelling.
pub(super) fn cnpj(v: &mut Violations, value: &str, field: &str) -> Option<Cnpj> {
    if value.trim().is_empty() {
        v.add(field, "required");
        return None;
    }
    Cnpj::parse(value)
        .map_err(|problem| v.add(field, problem.to_string()))
        .ok()
}

fn contacts(v: &mut Violations, given: &[pb::Contact]) -> Vec<Contact> {
    if given.len() > contact::MAX_CONTACTS {
        v.add(
            "supplier.contacts",
            format!("at most {} contacts", contact::MAX_CONTACTS),
        );
    }
    given
        .iter()
        .enumerate()
        .map(|(i, c)| one_contact(v, &format!("supplier.contacts[{i}]"), c))
        .collect()
}

/// One contact at `at` (`supplier.contacts[2]`): a name, and an e-mail or a
/// phone (or both), each well formed.
fn one_contact(v: &mut Violations, at: &str, c: &pb::Contact) -> Contact {
    let name = required_text(v, &c.name, &format!("{at}.name"), NAME_MAX);
    let email = c.email.trim();
    let phone = c.phone.trim();
    if email.is_empty() && phone.is_empty() {
        v.add(format!("{at}.email"), "an e-mail or a phone is required");
    }
    if !email.is_empty()
        && let Some(problem) = contact::email_problem(email)
    {
        v.add(format!("{at}.email"), problem);
    }
    if !phone.is_empty()
        && let Some(problem) = contact::phone_problem(phone)
    {
        v.add(format!("{at}.phone"), problem);
    }
    Contact {
        name,
        email: email.to_owned(),
        phone: phone.to_owned(),
        role: optional_text(v, &c.role, &format!("{at}.role"), 100),
    }
}

/// The fields UpdateSupplier writes: each address part on its own
/// (`address` names them all), the contacts as one list.
pub(super) const UPDATABLE: Updatable = Updatable::new(&[
    "legal_name",
    "trade_name",
    "cnpj",
    "contacts",
    "address.street",
    "address.number",
    "address.complement",
    "address.district",
    "address.city",
    "address.state",
    "address.postal_code",
])
.with_hints(&[("active", "use ActivateSupplier or DeactivateSupplier")]);

/// A required free-text address part (`street`), trimmed.
fn address_text(v: &mut Violations, part: &str, value: &str) -> String {
    required_text(v, value, &format!("supplier.address.{part}"), NAME_MAX)
}

fn complement(v: &mut Violations, value: &str) -> String {
    optional_text(v, value, "supplier.address.complement", NAME_MAX)
}

fn state(v: &mut Violations, value: &str) -> Option<Uf> {
    Uf::parse(value)
        .map_err(|problem| v.add("supplier.address.state", problem.to_string()))
        .ok()
}

fn postal_code(v: &mut Violations, value: &str) -> Option<Cep> {
    Cep::parse(value)
        .map_err(|problem| v.add("supplier.address.postal_code", problem.to_string()))
        .ok()
}

fn address(v: &mut Violations, given: Option<&pb::Address>) -> Option<Address> {
    let Some(a) = given else {
        v.add("supplier.address", "required");
        return None;
    };
    let street = address_text(v, "street", &a.street);
    let number = address_text(v, "number", &a.number);
    let complement = complement(v, &a.complement);
    let district = address_text(v, "district", &a.district);
    let city = address_text(v, "city", &a.city);
    let state = state(v, &a.state);
    let postal_code = postal_code(v, &a.postal_code);
    Some(Address {
        street,
        number,
        complement,
        district,
        city,
        state: state?,
        postal_code: postal_code?,
    })
}

/// A supplier to create; `None` only when a violation was recorded.
pub(super) fn new_supplier(
    v: &mut Violations,
    given: Option<&pb::Supplier>,
) -> Option<NewSupplier> {
    let Some(s) = given else {
        v.add("supplier", "required");
        return None;
    };
    let legal_name = required_text(v, &s.legal_name, "supplier.legal_name", NAME_MAX);
    let trade_name = optional_text(v, &s.trade_name, "supplier.trade_name", NAME_MAX);
    let cnpj = cnpj(v, &s.cnpj, "supplier.cnpj");
    let contacts = contacts(v, &s.contacts);
    let address = address(v, s.address.as_ref());
    Some(NewSupplier {
        legal_name,
        trade_name,
        cnpj: cnpj?,
        contacts,
        address: address?,
    })
}

/// The changes `mask` selects from `s`, each checked like on create.
pub(super) fn patch(v: &mut Violations, s: &pb::Supplier, mask: &Mask) -> SupplierPatch {
    let a = s.address.clone().unwrap_or_default();
    let has = |path: &str| mask.has(path);
    SupplierPatch {
        legal_name: has("legal_name")
            .then(|| required_text(v, &s.legal_name, "supplier.legal_name", NAME_MAX)),
        trade_name: has("trade_name")
            .then(|| optional_text(v, &s.trade_name, "supplier.trade_name", NAME_MAX)),
        cnpj: has("cnpj")
            .then(|| cnpj(v, &s.cnpj, "supplier.cnpj"))
            .flatten(),
        contacts: has("contacts").then(|| contacts(v, &s.contacts)),
        street: has("address.street").then(|| address_text(v, "street", &a.street)),
        number: has("address.number").then(|| address_text(v, "number", &a.number)),
        complement: has("address.complement").then(|| complement(v, &a.complement)),
        district: has("address.district").then(|| address_text(v, "district", &a.district)),
        city: has("address.city").then(|| address_text(v, "city", &a.city)),
        state: has("address.state").then(|| state(v, &a.state)).flatten(),
        postal_code: has("address.postal_code")
            .then(|| postal_code(v, &a.postal_code))
            .flatten(),
    }
}

/// A typo in [`UPDATABLE`] would make a path silently unwritable.
#[cfg(test)]
#[test]
fn every_updatable_path_is_a_field_of_the_contract() {
    assert!(UPDATABLE.undeclared_in::<pb::Supplier>().is_empty());
}
