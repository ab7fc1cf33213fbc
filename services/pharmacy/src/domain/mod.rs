//! Pharmacy's rules, free of I/O: stock movements that never go negative
//! and the low-stock rule, cabinet codes and statuses, the catalogue's
//! kinds and limits, the order of "where is item X", QR payloads, and the
//! hash-chained audit of controlled medicines.

pub mod audit;
pub mod catalog;
pub mod dispenser;
pub mod find;
pub mod qr;
pub mod stock;

pub use catalog::ItemKind;
pub use dispenser::{DispenserCode, DispenserStatus, PocketCode};
pub use stock::{MovementKind, MovementQuantity};
