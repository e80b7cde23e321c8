//! What keytool refuses, and how: clear errors, the documented exit codes, and no damage to
//! existing files.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use support::{Bench, published_image_repo};

fn add_app(bench: &Bench, path: &str, counter: &str) -> String {
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "app.bin",
        "--path",
        path,
        "--hardware-id",
        "hw-1",
        "--release-counter",
        counter,
    ])
}

#[test]
fn keys_are_never_overwritten() {
    let bench = Bench::new();
    bench.keys(&["k"]);
    let before = std::fs::read(bench.path("k.pem")).unwrap();
    let stderr = bench.fails(&["gen-key", "--type", "ecdsa-p256", "--out", "k.pem"]);
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    assert_eq!(std::fs::read(bench.path("k.pem")).unwrap(), before);
    let key = bench.json(&["gen-key", "--type", "ecdsa-p256", "--out", "p.pem"]);
    assert_eq!(key["public_key"]["scheme"], "ecdsa-sha2-nistp256");
    assert_eq!(key["key_id"].as_str().unwrap().len(), 64);
}

#[test]
fn publish_refuses_until_every_threshold_is_met() {
    let bench = Bench::new();
    bench.keys(&["root1", "root2", "targets", "snapshot", "timestamp"]);
    bench.ok(&[
        "init",
        "--repo",
        "repo",
        "--kind",
        "image",
        "--root-key",
        "root1.pem",
        "--root-key",
        "root2.pub.json",
        "--root-threshold",
        "2",
        "--targets-key",
        "targets.pub.json",
        "--snapshot-key",
        "snapshot.pub.json",
        "--timestamp-key",
        "timestamp.pub.json",
    ]);
    let stderr = bench.fails(&["publish", "--repo", "repo", "--snapshot-key", "snapshot.pem"]);
    for expected in [
        "root v1: 1 of 2 root keys of root v1 signed, threshold 2 NOT met",
        "targets v1: 0 of 1 targets keys of root v1 signed, threshold 1 NOT met",
        "timestamp: 0 of 1 timestamp keys of root v1 signed",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in\n{stderr}");
    }
    assert!(!bench.path("repo/metadata").exists(), "nothing is written on refusal");

    let stderr =
        bench.fails(&["sign", "--repo", "repo", "--role", "targets", "--key", "root2.pem"]);
    assert!(stderr.contains("is not a key of role targets"), "{stderr}");
    let sign_with_public =
        ["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pub.json"];
    let (_, stderr) = bench.expect(2, &sign_with_public);
    assert!(stderr.contains("signing needs the private key"), "{stderr}");
}

#[test]
fn one_version_per_edit_cycle_and_signatures_cleared_by_edits() {
    let bench = Bench::new();
    published_image_repo(&bench);
    bench.write("app.bin", b"image one");
    add_app(&bench, "a/app.bin", "1");
    bench.ok(&["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem"]);
    let status = bench.json(&["status", "--repo", "repo"]);
    assert_eq!(status["roles"][1]["version"], 2);
    assert_eq!(status["roles"][1]["ready"], true);

    // Re-adding the identical entry changes nothing and keeps the signature.
    let out = add_app(&bench, "a/app.bin", "1");
    assert!(out.contains("unchanged (signatures kept)"), "{out}");
    // A real edit keeps the version (same cycle) but clears the signature.
    add_app(&bench, "b/app.bin", "1");
    let status = bench.json(&["status", "--repo", "repo"]);
    let targets = &status["roles"][1];
    assert_eq!((targets["version"].clone(), targets["ready"].clone()), (2.into(), false.into()));

    let stderr = bench.fails(&[
        "add-target",
        "--repo",
        "repo",
        "app.bin",
        "--path",
        "a/app.bin",
        "--hardware-id",
        "hw-1",
        "--release-counter",
        "0",
    ]);
    assert!(stderr.contains("lower than the 1 already listed"), "{stderr}");
    bench.ok(&["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem"]);
    support::publish(&bench);
    assert!(bench.path("repo/metadata/2.targets.json").is_file());
    assert_eq!(bench.json(&["verify", "--repo", "repo"])["ok"], true);
}

#[test]
fn merging_a_different_body_never_destroys_the_staged_file() {
    let bench = Bench::new();
    published_image_repo(&bench);
    bench.write("app.bin", b"image one");
    bench.copy_workspace("repo", "other");
    add_app(&bench, "a/app.bin", "1");
    let staged = std::fs::read(bench.path("repo/staged/targets.json")).unwrap();
    bench.ok(&[
        "add-target",
        "--repo",
        "other",
        "app.bin",
        "--path",
        "z/app.bin",
        "--hardware-id",
        "hw-1",
        "--release-counter",
        "1",
    ]);
    let stderr =
        bench.fails(&["merge", "--repo", "repo", "--role", "targets", "other/staged/targets.json"]);
    assert!(stderr.contains("--replace"), "{stderr}");
    assert_eq!(std::fs::read(bench.path("repo/staged/targets.json")).unwrap(), staged);
    let stderr = bench.fails(&["merge", "--repo", "repo", "--role", "targets", "no-such.json"]);
    assert!(stderr.contains("no-such.json"), "{stderr}");
    assert_eq!(std::fs::read(bench.path("repo/staged/targets.json")).unwrap(), staged);
}

#[test]
fn usage_errors_exit_2() {
    let bench = Bench::new();
    bench.expect(2, &["add-target", "--repo", "repo"]);
    bench.expect(2, &["expiry", "--repo", "repo", "--warn-within", "soon"]);
    bench.expect(2, &["gen-key", "--type", "rsa", "--out", "x.pem"]);
    bench.expect(2, &["frobnicate"]);
}

#[test]
fn expiry_warns_with_exit_3() {
    let bench = Bench::new();
    published_image_repo(&bench);
    let (stdout, _) = bench.expect(3, &["expiry", "--repo", "repo"]);
    assert!(stdout.contains("timestamp"), "{stdout}");
    bench.ok(&["expiry", "--repo", "repo", "--offline-only"]);
    let (stdout, _) =
        bench.expect(3, &["expiry", "--repo", "repo", "--offline-only", "--warn-within", "400d"]);
    let report: serde_json::Value = serde_json::from_str(
        &bench.expect(3, &["expiry", "--repo", "repo", "--warn-within", "400d", "--json"]).0,
    )
    .unwrap();
    assert!(stdout.contains("root"), "{stdout}");
    assert_eq!(report["warn_within"], "400d");
    assert!(report["warnings"].as_array().unwrap().iter().any(|r| r == "root"));
}

#[test]
fn director_workspaces_hold_only_root() {
    let bench = Bench::new();
    bench.keys(&["root", "online"]);
    let mut args = vec!["init", "--repo", "repo", "--kind", "director", "--root-key", "root.pem"];
    for role in ["--targets-key", "--snapshot-key", "--timestamp-key"] {
        args.extend([role, "online.pub.json"]);
    }
    bench.ok(&args);
    bench.write("app.bin", b"x");
    let stderr = bench.fails(&[
        "add-target",
        "--repo",
        "repo",
        "app.bin",
        "--path",
        "a",
        "--hardware-id",
        "h",
        "--release-counter",
        "1",
    ]);
    assert!(stderr.contains("Director workspace"), "{stderr}");
    bench.ok(&["publish", "--repo", "repo"]);
    let files: Vec<_> = std::fs::read_dir(bench.path("repo/metadata")).unwrap().collect();
    assert_eq!(files.len(), 1);
    assert!(bench.path("repo/metadata/1.root.json").is_file());
}

/// The time key is named by a root field (stock TUF clients reject a fifth role), survives a
/// rotation of the other keys, rotates itself, and belongs to Directors only.
#[test]
fn director_roots_name_their_time_keys() {
    let bench = Bench::new();
    bench.keys(&["root", "online", "time", "time2"]);
    let mut args = vec!["init", "--repo", "repo", "--kind", "director", "--root-key", "root.pem"];
    for role in ["--targets-key", "--snapshot-key", "--timestamp-key"] {
        args.extend([role, "online.pub.json"]);
    }
    args.extend(["--time-key", "time.pub.json"]);
    bench.ok(&args);
    let root = |version: u64| -> serde_json::Value {
        let text = std::fs::read(bench.path(&format!("repo/metadata/{version}.root.json")));
        serde_json::from_slice(&text.unwrap()).unwrap()
    };
    let key_id = |name: &str| -> String {
        let bytes = std::fs::read(bench.path(name)).unwrap();
        serde_json::from_slice::<uptane::crypto::PublicKey>(&bytes).unwrap().key_id().unwrap()
    };
    bench.ok(&["publish", "--repo", "repo"]);
    let first = root(1);
    let time = &first["signed"]["time_attestation"];
    assert_eq!(time["keyids"], serde_json::json!([key_id("time.pub.json")]));
    assert!(first["signed"]["keys"].get(key_id("time.pub.json")).is_some());
    assert_eq!(first["signed"]["roles"].as_object().unwrap().len(), 4);

    bench.ok(&["rotate-root", "--repo", "repo", "--timestamp-key", "root.pub.json"]);
    bench.ok(&["sign", "--repo", "repo", "--role", "root", "--key", "root.pem"]);
    bench.ok(&["publish", "--repo", "repo"]);
    assert_eq!(root(2)["signed"]["time_attestation"], *time, "kept across a rotation");

    bench.ok(&["rotate-root", "--repo", "repo", "--time-key", "time2.pub.json"]);
    bench.ok(&["sign", "--repo", "repo", "--role", "root", "--key", "root.pem"]);
    bench.ok(&["publish", "--repo", "repo"]);
    let third = root(3);
    assert_eq!(
        third["signed"]["time_attestation"]["keyids"],
        serde_json::json!([key_id("time2.pub.json")])
    );
    assert!(third["signed"]["keys"].get(key_id("time.pub.json")).is_none(), "old key dropped");

    let image = ["init", "--repo", "img", "--kind", "image", "--root-key", "root.pem"];
    let mut image = image.to_vec();
    for role in ["--targets-key", "--snapshot-key", "--timestamp-key", "--time-key"] {
        image.extend([role, "online.pub.json"]);
    }
    let stderr = bench.expect(2, &image).1;
    assert!(stderr.contains("Director root"), "{stderr}");
}

#[test]
fn canonical_json_orders_keys_by_code_point() {
    let bench = Bench::new();
    bench.write("doc.json", br#"{"signed": {"app!": 3, "app v2": 2, "app": 1}, "signatures": []}"#);
    assert_eq!(bench.ok(&["canonical", "doc.json"]), r#"{"app":1,"app v2":2,"app!":3}"#);
    bench.write("batch.json", br#"["{\"b\": \"\u00e9\", \"a\": [1, null]}", "1.5"]"#);
    let results: serde_json::Value =
        serde_json::from_str(&bench.ok(&["canonical", "--batch", "batch.json"])).unwrap();
    let expected = hex_of(r#"{"a":[1,null],"b":"é"}"#);
    assert_eq!(results[0]["hex"], expected);
    assert!(results[1]["error"].is_string());
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
