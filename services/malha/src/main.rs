//! `malha`: one binary, many roles. See `malha --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    exit_quietly_on_closed_pipe();
    let cli = malha::cli::Cli::parse();
    match malha::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("malha: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `malha openapi | head` closes the pipe before everything is printed.
/// Rust ignores SIGPIPE, so `println!` panics instead ("failed printing to
/// stdout: Broken pipe", exit 101); the reader simply had enough, so end
/// quietly and successfully, as `cat` would from the shell's point of view.
/// A panic hook is the one place that covers every command's `print!`
/// (restoring SIGPIPE's default would need `unsafe`, which the workspace forbids).
fn exit_quietly_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if is_closed_pipe(message) {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether `message` is the panic of a print macro writing to a closed pipe.
fn is_closed_pipe(message: &str) -> bool {
    // std formats it as "failed printing to stdout: Broken pipe (os error 32)".
    (message.starts_with("failed printing to stdout")
        || message.starts_with("failed printing to stderr"))
        && message.to_ascii_lowercase().contains("broken pipe")
}
