//! A real `idms` binary for the benchmarks that drive the service from
//! outside (`bench-drill`, `bench-scim`): run a command on a data
//! directory, or start `idms serve` and wait until it is ready.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `idms` binary this bench was built with.
pub const IDMS: &str = env!("CARGO_BIN_EXE_idms");

/// Runs `idms --data-dir DIR ARGS…`; its standard output (it must succeed).
pub fn idms(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(IDMS).arg("--data-dir").arg(dir).args(args).env_remove("IDMS_DATA_DIR").output().unwrap();
    assert!(out.status.success(), "idms {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `idms serve` on `listen` and waits (up to 30 s) until `/readyz` answers 200.
pub fn serve(dir: &Path, listen: &str) -> Child {
    let mut child = Command::new(IDMS)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", listen])
        .env_remove("IDMS_DATA_DIR")
        .env("IDMS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(1))).build().into();
    for _ in 0..300 {
        if agent.get(&format!("http://{listen}/readyz")).call().is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("idms serve did not become ready");
}
