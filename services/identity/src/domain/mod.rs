//! Identity's rules, free of I/O (CPF check digits live in the kit, shared
//! with queue): login lockout, refresh
//! token rotation, roles, credential formats and account activation.

pub mod activation;
pub mod credentials;
pub mod lockout;
pub mod refresh;
pub mod roles;

pub use activation::{ActivationPolicy, UserState};
pub use lockout::LockoutPolicy;
pub use malha_kit::cpf::Cpf;
pub use refresh::{RefreshOutcome, RefreshState};
