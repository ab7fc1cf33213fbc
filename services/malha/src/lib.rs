//! The `malha` binary as a library: the target registry, the serving app
//! (used by `serve`, `up` and the tests alike), the settings each service
//! adds to them, and the CLI commands.

pub mod app;
pub mod cli;
pub mod settings;
pub mod targets;
