//! Proto → domain: every supplier field checked against its rule, every
//! violation named by its path in the request (`supplier.address.state`,
//! `supplier.contacts[1].email`), text trimmed, CNPJ/UF/CEP normalised.

use crate::domain::update_mask::{AddressPart, Field};
use crate::domain::{Address, Cep, Cnpj, Contact, NewSupplier, SupplierPatch, Uf, contact};
use malha_api::malha::suppliers::v1 as pb;
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

fn address_field(part: AddressPart) -> String {
    format!("supplier.address.{}", part.name())
}

/// A free-text address part (all but state and postal code).
fn address_text(v: &mut Violations, part: AddressPart, value: &str) -> String {
    let field = address_field(part);
    match part {
        AddressPart::Complement => optional_text(v, value, &field, NAME_MAX),
        _ => required_text(v, value, &field, NAME_MAX),
    }
}

fn state(v: &mut Violations, value: &str) -> Option<Uf> {
    Uf::parse(value)
        .map_err(|problem| v.add(address_field(AddressPart::State), problem.to_string()))
        .ok()
}

fn postal_code(v: &mut Violations, value: &str) -> Option<Cep> {
    Cep::parse(value)
        .map_err(|problem| v.add(address_field(AddressPart::PostalCode), problem.to_string()))
        .ok()
}

fn address(v: &mut Violations, given: Option<&pb::Address>) -> Option<Address> {
    let Some(a) = given else {
        v.add("supplier.address", "required");
        return None;
    };
    let street = address_text(v, AddressPart::Street, &a.street);
    let number = address_text(v, AddressPart::Number, &a.number);
    let complement = address_text(v, AddressPart::Complement, &a.complement);
    let district = address_text(v, AddressPart::District, &a.district);
    let city = address_text(v, AddressPart::City, &a.city);
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

/// The changes `fields` take from `s`, each checked like on create.
pub(super) fn patch(v: &mut Violations, s: &pb::Supplier, fields: &[Field]) -> SupplierPatch {
    let a = s.address.clone().unwrap_or_default();
    let mut patch = SupplierPatch::default();
    for field in fields {
        match field {
            Field::LegalName => {
                patch.legal_name = Some(required_text(
                    v,
                    &s.legal_name,
                    "supplier.legal_name",
                    NAME_MAX,
                ));
            }
            Field::TradeName => {
                patch.trade_name = Some(optional_text(
                    v,
                    &s.trade_name,
                    "supplier.trade_name",
                    NAME_MAX,
                ));
            }
            Field::Cnpj => patch.cnpj = cnpj(v, &s.cnpj, "supplier.cnpj"),
            Field::Contacts => patch.contacts = Some(contacts(v, &s.contacts)),
            Field::Address(part) => match part {
                AddressPart::Street => patch.street = Some(address_text(v, *part, &a.street)),
                AddressPart::Number => patch.number = Some(address_text(v, *part, &a.number)),
                AddressPart::Complement => {
                    patch.complement = Some(address_text(v, *part, &a.complement));
                }
                AddressPart::District => {
                    patch.district = Some(address_text(v, *part, &a.district));
                }
                AddressPart::City => patch.city = Some(address_text(v, *part, &a.city)),
                AddressPart::State => patch.state = state(v, &a.state),
                AddressPart::PostalCode => patch.postal_code = postal_code(v, &a.postal_code),
            },
        }
    }
    patch
}

/// The mask an update without one implies: every populated field.
pub(super) fn implied_mask(s: &pb::Supplier) -> Vec<String> {
    let mut paths = Vec::new();
    for (path, populated) in [
        ("legal_name", !s.legal_name.is_empty()),
        ("trade_name", !s.trade_name.is_empty()),
        ("cnpj", !s.cnpj.is_empty()),
        ("contacts", !s.contacts.is_empty()),
    ] {
        if populated {
            paths.push(path.to_owned());
        }
    }
    if let Some(a) = &s.address {
        for (part, value) in AddressPart::ALL.iter().zip([
            &a.street,
            &a.number,
            &a.complement,
            &a.district,
            &a.city,
            &a.state,
            &a.postal_code,
        ]) {
            if !value.is_empty() {
                paths.push(format!("address.{}", part.name()));
            }
        }
    }
    paths
}
