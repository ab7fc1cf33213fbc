//! The `malha` binary as a library: the target registry, the serving app
//! (used by `serve`, `up` and the tests alike), the settings each service
//! adds to them, and the CLI commands.

pub mod app;
pub mod cli;
pub mod settings;
pub mod targets;

#[cfg(test)]
mod tests {
    /// The test-support crate is for tests only: `malha up` runs its private
    /// servers through `malha-local`.
    #[test]
    fn the_binary_depends_on_the_test_support_crate_only_for_tests() {
        let manifest = include_str!("../Cargo.toml");
        let dependencies = manifest
            .split("[dependencies]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .expect("a [dependencies] table");
        assert!(dependencies.contains("malha-local"), "{dependencies}");
        assert!(!dependencies.contains("malha-testkit"), "{dependencies}");
    }
}
