//! Queue's rules, free of I/O: a unit's time zone and its local day, service
//! letters and daily ticket codes, the legal priorities, the fairness rule a
//! desk calls by, and the life of a ticket.

pub mod code;
pub mod fairness;
pub mod panel;
pub mod place;
pub mod priority;
pub mod route;
pub mod ticket;
pub mod unit;

pub use code::{Letter, TicketCode};
pub use fairness::{Class, FairnessRule};
pub use priority::Priority;
pub use ticket::{Move, Step, TicketStatus};
pub use unit::TimeZone;
