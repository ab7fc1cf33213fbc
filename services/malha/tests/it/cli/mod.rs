//! The binary's one-shot commands as a shell user meets them: output piped
//! into a reader that stops early.

use std::process::{Command, Stdio};

/// `malha <args> | head -c 0`: the reader has gone before anything is written.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the malha binary");
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn commands_that_print_end_quietly_when_the_reader_closes_the_pipe() {
    for args in [&["openapi"][..], &["targets", "--graph"]] {
        let output = into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "malha {args:?} exited with {}: {stderr}",
            output.status
        );
        assert!(stderr.is_empty(), "malha {args:?} wrote: {stderr}");
    }
}
