//! The profile-guided build's training traffic (`benches/pgo/build.sh`)
//! still passes against the gateway as it is: the script's train-only mode
//! runs it through this build's binary (two stores, a webhook receiver, two
//! gateways, six tenants), and fails on any answer other than the expected
//! one. A release build that trains on refused requests would optimize the
//! wrong path, and a broken training run would stop the release build.
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_training_traffic_of_the_profile_guided_build_passes() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(repo.join("benches/pgo/build.sh"))
        .env("TRAIN_ONLY", env!("CARGO_BIN_EXE_scim-gateway"))
        .env("ROUNDS", "5")
        .env("CONNECTIONS", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the training run failed:\n{stderr}");
    assert!(
        stderr.contains("train.py: 6 tenants, 2 connections each, 5 rounds per connection"),
        "{stderr}"
    );
    assert!(stderr.contains("the training traffic passed"), "{stderr}");
}
