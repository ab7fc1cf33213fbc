//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds
//! the files it finds, but only a changed file, not a new one, is noticed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
