//! The workspace states the Rust it needs truthfully: `rust-version` is at
//! least every dependency's own minimum, and `rust-toolchain.toml` asks for
//! what scripts/test and `cargo lambda build --arm64` use.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.resize(3, 0);
    parts
}

#[test]
fn rust_version_is_at_least_every_dependencys() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let ours = packages
        .iter()
        .find(|p| p["name"] == "adder")
        .and_then(|p| p["rust_version"].as_str())
        .expect("the workspace sets rust-version");
    let (needed, by) = packages
        .iter()
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .expect("some dependency states a rust-version");
    assert!(
        version(ours) >= needed,
        "rust-version = {ours}, but {by} needs {needed:?}"
    );
}

#[test]
fn the_toolchain_file_names_what_the_build_uses() {
    let text = std::fs::read_to_string(root().join("rust-toolchain.toml"))
        .expect("rust-toolchain.toml at the repository root");
    for wanted in ["channel", "aarch64-unknown-linux-gnu", "clippy", "rustfmt"] {
        assert!(text.contains(wanted), "rust-toolchain.toml lacks {wanted}");
    }
}
