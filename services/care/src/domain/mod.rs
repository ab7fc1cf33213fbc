//! Care's rules, free of I/O: the request workflow (who may move a request
//! to which FHIR Task status, and what each move requires).

pub mod workflow;

pub use workflow::{Mover, RequestKind, Status, Transition, TransitionError};
