//! The `malha` binary as a library: the target registry, the serving app
//! (used by `serve`, `up` and the tests alike), and the CLI commands.

pub mod app;
pub mod cli;
pub mod targets;
