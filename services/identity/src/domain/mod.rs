//! Identity's rules, free of I/O: CPF check digits, login lockout, refresh
//! token rotation, roles, credential formats and account activation.

pub mod activation;
pub mod cpf;
pub mod credentials;
pub mod lockout;
pub mod refresh;
pub mod roles;

pub use activation::{ActivationPolicy, UserState};
pub use cpf::Cpf;
pub use lockout::LockoutPolicy;
pub use refresh::{RefreshOutcome, RefreshState};
