//! Suppliers' rules, free of I/O: CNPJ check digits (numeric and
//! alphanumeric), UF and CEP, contact formats, the active/inactive life of a
//! supplier and what deleting does, supply terms.

pub mod address;
pub mod cnpj;
pub mod contact;
pub mod lifecycle;
pub mod supplier;
pub mod terms;

pub use address::{Cep, Uf};
pub use cnpj::Cnpj;
pub use supplier::{Address, Contact, NewSupplier, SupplierPatch};
