//! A supplier's data once every field has passed its rules: what the store
//! writes on create, and the subset an update changes.

use super::{Cep, Cnpj, Uf};

/// A person at a supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub role: String,
}

/// A supplier's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub street: String,
    pub number: String,
    pub complement: String,
    pub district: String,
    pub city: String,
    pub state: Uf,
    pub postal_code: Cep,
}

/// A supplier to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSupplier {
    pub legal_name: String,
    pub trade_name: String,
    pub cnpj: Cnpj,
    pub contacts: Vec<Contact>,
    pub address: Address,
}

/// The fields an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupplierPatch {
    pub legal_name: Option<String>,
    pub trade_name: Option<String>,
    pub cnpj: Option<Cnpj>,
    /// Replaces the whole list.
    pub contacts: Option<Vec<Contact>>,
    pub street: Option<String>,
    pub number: Option<String>,
    pub complement: Option<String>,
    pub district: Option<String>,
    pub city: Option<String>,
    pub state: Option<Uf>,
    pub postal_code: Option<Cep>,
}
