//! Order rules, free of I/O: the status machine ([`status`]), what a valid
//! order is and how it is priced from the menu ([`cart`]), and what a valid
//! menu entry is ([`menu`]), and who may see an order ([`visibility`]).

pub mod cart;
pub mod menu;
pub mod status;
pub mod visibility;

pub use status::{Mover, Status};
