//! The binary's command line as a shell user meets it: output piped into a
//! reader that stops early, the settings `--help` lists.

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

#[test]
fn serve_help_names_the_telemetry_settings_the_readme_points_to() {
    for command in ["serve", "up"] {
        let help = Command::new(env!("CARGO_BIN_EXE_malha"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8(help.stdout).unwrap();
        assert!(help.status.success());
        for setting in ["OTEL_EXPORTER_OTLP_ENDPOINT", "DATABASE_URL", "NO_COLOR"] {
            assert!(
                text.contains(setting),
                "malha {command} --help lacks {setting}"
            );
        }
    }
}
