//! Tests of the `sesh` binary, run as a real process.

mod cert;
mod cookies;
mod download;
mod download_name;
mod fetch;
mod resolve_host;
mod resolve_proxy;
mod session_info;
mod tour;

use std::path::Path;
use std::process::{Command, Output};

/// The `sesh` binary with a clean environment: no user-data directory
/// variables from the machine running the tests.
pub fn sesh() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sesh"));
    cmd.env_remove("SESH_USER_DATA_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs `sesh --user-data-dir DIR ARGS…`.
pub fn sesh_in(dir: &Path, args: &[&str]) -> Output {
    sesh()
        .arg("--user-data-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The process's standard output, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The process's standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}
