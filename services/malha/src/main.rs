//! `malha`: one binary, many roles. See `malha --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = malha::cli::Cli::parse();
    match malha::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("malha: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
