//! A full release ceremony through the real binary: keys, a 2-of-3 root signed by two holders on
//! their own copies and merged, targets in subdirectories, a supplier delegation scoped by paths
//! and hardware ids whose supplier signs their own role, publish, verify; then a root rotation
//! with a changed threshold, and a tampered image caught by verify.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Bench, flip_byte, publish};

#[test]
fn full_ceremony_publish_verify_rotate_and_tamper() {
    let bench = Bench::new();
    bench.keys(&["root1", "root2", "root3", "targets", "snapshot", "timestamp", "supplier"]);
    let mode = std::fs::metadata(bench.path("root1.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "private keys are created 0600");

    // The ceremony lead only holds public keys: nobody's private root key leaves its holder.
    bench.ok(&[
        "init",
        "--repo",
        "repo",
        "--kind",
        "image",
        "--root-key",
        "root1.pub.json",
        "--root-key",
        "root2.pub.json",
        "--root-key",
        "root3.pub.json",
        "--root-threshold",
        "2",
        "--targets-key",
        "targets.pub.json",
        "--snapshot-key",
        "snapshot.pub.json",
        "--timestamp-key",
        "timestamp.pub.json",
    ]);

    // Two root key holders sign separate copies; the lead merges them.
    for (holder, key) in [("holder1", "root1.pem"), ("holder2", "root2.pem")] {
        bench.copy_workspace("repo", holder);
        bench.ok(&["sign", "--repo", holder, "--role", "root", "--key", key]);
    }
    let merged = bench.json(&[
        "merge",
        "--repo",
        "repo",
        "--role",
        "root",
        "holder1/staged/root.json",
        "holder2/staged/root.json",
    ]);
    assert_eq!(merged[1]["status"]["ready"], true, "{merged}");

    // Images, one in a subdirectory of the top-level targets.
    bench.write("build/app-1.0.bin", &vec![0x5a; 70_000]);
    bench.write("build/tcu-2.1.bin", b"supplier image");
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "build/app-1.0.bin",
        "--path",
        "ecu/bcm/app-1.0.bin",
        "--hardware-id",
        "acme-bcm-rev3",
        "--release-counter",
        "4",
    ]);
    bench.ok(&[
        "delegate",
        "--repo",
        "repo",
        "--to",
        "supplierA",
        "--key",
        "supplier.pub.json",
        "--paths",
        "supplierA/*",
        "--hardware-id",
        "acme-tcu",
    ]);
    bench.ok(&[
        "add-target",
        "--repo",
        "repo",
        "build/tcu-2.1.bin",
        "--path",
        "supplierA/tcu-2.1.bin",
        "--hardware-id",
        "acme-tcu",
        "--release-counter",
        "7",
        "--role",
        "supplierA",
    ]);
    let stderr = bench.fails(&[
        "add-target",
        "--repo",
        "repo",
        "build/tcu-2.1.bin",
        "--path",
        "ecu/bcm/evil.bin",
        "--hardware-id",
        "acme-tcu",
        "--release-counter",
        "7",
        "--role",
        "supplierA",
    ]);
    assert!(stderr.contains("outside the delegation to role supplierA"), "{stderr}");

    // Targets is signed here; the supplier signs its role on its own copy.
    bench.ok(&["sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem"]);
    bench.copy_workspace("repo", "supplier-copy");
    bench.ok(&["sign", "--repo", "supplier-copy", "--role", "supplierA", "--key", "supplier.pem"]);
    bench.ok(&[
        "merge",
        "--repo",
        "repo",
        "--role",
        "supplierA",
        "supplier-copy/staged/supplierA.json",
    ]);
    let status = bench.json(&["status", "--repo", "repo"]);
    assert_eq!(status["not_ready"], serde_json::json!([]), "{status}");

    publish(&bench);
    for file in [
        "metadata/1.root.json",
        "metadata/1.targets.json",
        "metadata/1.supplierA.json",
        "metadata/1.snapshot.json",
        "metadata/timestamp.json",
    ] {
        assert!(bench.path(&format!("repo/{file}")).is_file(), "{file} published");
    }
    let snapshot = bench.read_json("repo/metadata/1.snapshot.json");
    let meta = &snapshot["signed"]["meta"];
    assert_eq!(meta["supplierA.json"]["version"], 1);
    assert!(meta["supplierA.json"]["hashes"]["sha256"].is_string());
    assert!(meta["targets.json"]["length"].is_u64());
    let timestamp = bench.read_json("repo/metadata/timestamp.json");
    assert!(timestamp["signed"]["meta"]["snapshot.json"]["hashes"]["sha256"].is_string());
    let targets = bench.read_json("repo/metadata/1.targets.json");
    let entry = &targets["signed"]["targets"]["ecu/bcm/app-1.0.bin"];
    assert_eq!(entry["custom"]["hardwareIds"], serde_json::json!(["acme-bcm-rev3"]));
    assert_eq!(entry["custom"]["releaseCounter"], 4);
    for algorithm in ["sha256", "sha512"] {
        let hash = entry["hashes"][algorithm].as_str().unwrap();
        let copy = bench.path(&format!("repo/targets/ecu/bcm/{hash}.app-1.0.bin"));
        assert_eq!(std::fs::read(copy).unwrap().len(), 70_000, "{algorithm} copy");
    }

    let report = bench.json(&["verify", "--repo", "repo"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["targets"].as_array().unwrap().len(), 2);
    assert_eq!(report["images_checked"], 4);
    assert_eq!(report["roles"], serde_json::json!(["targets", "supplierA"]));

    // Root rotation: root3 out, root4 in, threshold 2 -> 3. It needs 2 of the old root keys
    // and all 3 of the new ones; publishing is refused until both are met.
    bench.keys(&["root4"]);
    bench.ok(&[
        "rotate-root",
        "--repo",
        "repo",
        "--root-key",
        "root1.pub.json",
        "--root-key",
        "root2.pub.json",
        "--root-key",
        "root4.pub.json",
        "--root-threshold",
        "3",
    ]);
    bench.ok(&["sign", "--repo", "repo", "--role", "root", "--key", "root4.pem"]);
    bench.ok(&["sign", "--repo", "repo", "--role", "root", "--key", "root3.pem"]);
    let stderr = bench.fails(&[
        "publish",
        "--repo",
        "repo",
        "--snapshot-key",
        "snapshot.pem",
        "--timestamp-key",
        "timestamp.pem",
    ]);
    assert!(stderr.contains("1 of 3 root keys of root v2 signed, threshold 3 NOT met"), "{stderr}");
    assert!(stderr.contains("previous root v1 signed, threshold 2 NOT met"), "{stderr}");
    assert!(!bench.path("repo/metadata/2.root.json").exists(), "nothing written on refusal");
    bench.ok(&[
        "sign",
        "--repo",
        "repo",
        "--role",
        "root",
        "--key",
        "root1.pem",
        "--key",
        "root2.pem",
    ]);
    publish(&bench);
    let report = bench.json(&["verify", "--repo", "repo"]);
    assert_eq!((report["ok"].clone(), report["root_version"].clone()), (true.into(), 2.into()));
    let root2 = bench.read_json("repo/metadata/2.root.json");
    assert_eq!(root2["signed"]["roles"]["root"]["threshold"], 3);
    assert!(bench.path("repo/metadata/1.root.json").is_file(), "every root version is kept");

    // A flipped byte in a stored image: verify fails and names the attack.
    let hash = entry["hashes"]["sha256"].as_str().unwrap();
    flip_byte(&bench.path(&format!("repo/targets/ecu/bcm/{hash}.app-1.0.bin")));
    let (stdout, _) = bench.expect(1, &["verify", "--repo", "repo"]);
    assert!(stdout.contains("arbitrary_software"), "{stdout}");
    assert!(stdout.contains("verify FAILED"), "{stdout}");
}
