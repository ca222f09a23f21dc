//! Running the `aetool` binary from the end-to-end tests.

use assert_cmd::Command;
use std::time::Duration;

/// The built `aetool` binary with `threads` compute threads (the CI machine has two cores),
/// killed after `timeout`.
pub fn aetool_with(threads: &str, timeout: Duration) -> Command {
    let mut cmd = Command::cargo_bin("aetool").expect("aetool binary");
    cmd.env("RAYON_NUM_THREADS", threads).timeout(timeout);
    cmd
}

/// Runs `cmd`, returning (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run aetool");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
