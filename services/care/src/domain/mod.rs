//! Care's rules, free of I/O: the request workflow (who may move a request
//! to which FHIR Task status, and what each move requires) and what a
//! request is made of.

pub mod request;
pub mod workflow;

pub use request::Priority;
pub use workflow::{Mover, RequestKind, Status, Transition, TransitionError};
