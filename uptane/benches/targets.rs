//! Verifying and signing a 1000-target Image repository Targets file, each against its floor
//! measured in the same run (the machines are shared and noisy, so only ratios are printed).
//!
//! Floor for verification: parsing the bytes and checking the signatures over canonical bytes
//! computed beforehand. Floor for signing: serialising the typed metadata and signing.
//! Goal (issue 2): both ratios at most 1.5.

#![allow(clippy::unwrap_used)] // a benchmark: any failure is a bug to see at once

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use uptane::canonical;
use uptane::crypto::{PrivateKey, Signer};
use uptane::metadata::{
    MetaFile, Root, SignedMetadata, Snapshot, TargetCustom, TargetFile, Targets, Timestamp,
};
use uptane::names::HardwareId;
use uptane::repository::{Rules, TrustedSet};

const TARGETS: usize = 1000;
const KEYS: usize = 3;

fn main() {
    let keys: Vec<PrivateKey> =
        (0..KEYS as u8).map(|i| PrivateKey::ed25519_from_seed(&[i + 1; 32]).unwrap()).collect();
    let expires = Utc::now() + Days::days(30);
    let mut root = Root::new(expires);
    for role in ["root", "targets", "snapshot", "timestamp"] {
        for key in &keys {
            root.add_key(role, key.public_key()).unwrap();
        }
        root.roles.get_mut(role).unwrap().threshold = KEYS as u32;
    }
    let targets = SignedMetadata::new(targets_body(expires));
    let targets = sign_all(targets, &keys);
    let targets_bytes = targets.to_bytes().unwrap();
    let root_bytes = sign_all(SignedMetadata::new(root), &keys).to_bytes().unwrap();
    let snapshot_bytes = sign_all(
        SignedMetadata::new(Snapshot::new(
            1,
            expires,
            BTreeMap::from([("targets.json".to_string(), MetaFile::describing(1, &targets_bytes))]),
        )),
        &keys,
    )
    .to_bytes()
    .unwrap();
    let timestamp_bytes = sign_all(
        SignedMetadata::new(Timestamp::new(1, expires, MetaFile::describing(1, &snapshot_bytes))),
        &keys,
    )
    .to_bytes()
    .unwrap();
    let mut base = TrustedSet::new(&root_bytes, Utc::now(), Rules::uptane()).unwrap();
    base.update_timestamp(&timestamp_bytes).unwrap();
    base.update_snapshot(&snapshot_bytes).unwrap();

    println!(
        "targets file: {TARGETS} targets, {} bytes, {KEYS} ed25519 signatures",
        targets_bytes.len()
    );

    // Verification.
    let envelope: serde_json::Value = serde_json::from_slice(&targets_bytes).unwrap();
    let message = canonical::to_vec(&envelope["signed"]).unwrap();
    let sigs: Vec<Vec<u8>> =
        targets.signatures.iter().map(|s| hex::decode(&s.sig).unwrap()).collect();
    let (verify, verify_floor) = measure_pair(
        || {
            let mut set = base.clone();
            set.update_targets("targets", "root", black_box(&targets_bytes)).unwrap();
            black_box(set);
        },
        || {
            let value: serde_json::Value =
                serde_json::from_slice(black_box(&targets_bytes)).unwrap();
            for (key, sig) in keys.iter().zip(&sigs) {
                assert!(key.public_key().verify(&message, sig));
            }
            black_box(value);
        },
    );
    report("verify 1000-target targets", verify, verify_floor);

    // Signing.
    let body = targets.signed.clone();
    let (sign, sign_floor) = measure_pair(
        || {
            let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
            let mut signed = SignedMetadata::new(black_box(&body).clone());
            black_box(signed.sign_to_bytes(&signers).unwrap());
        },
        || {
            let bytes = serde_json::to_vec(black_box(&body)).unwrap();
            for key in &keys {
                black_box(key.sign(&bytes).unwrap());
            }
        },
    );
    report("sign 1000-target targets", sign, sign_floor);
}

fn targets_body(expires: chrono::DateTime<Utc>) -> Targets {
    let mut targets = Targets::new(1, expires);
    for i in 0..TARGETS {
        let mut file = TargetFile::describing(format!("image {i}").as_bytes());
        let custom = TargetCustom {
            hardware_ids: Some(vec![HardwareId::new(format!("ecu-type-{}", i % 20)).unwrap()]),
            release_counter: Some(i as u64),
            ..TargetCustom::default()
        };
        file.set_uptane(&custom).unwrap();
        targets.targets.insert(format!("supplier{}/ecu-{i}/firmware-{i}.bin", i % 7), file);
    }
    targets
}

fn sign_all<M: serde::Serialize>(
    mut meta: SignedMetadata<M>,
    keys: &[PrivateKey],
) -> SignedMetadata<M> {
    let signers: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
    meta.sign_with(&signers).unwrap();
    meta
}

/// Median times of `a` and `b`, run alternately for about 2 s so both see the same load.
fn measure_pair(mut a: impl FnMut(), mut b: impl FnMut()) -> (Duration, Duration) {
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) || sa.len() < 20 {
        let t = Instant::now();
        a();
        sa.push(t.elapsed());
        let t = Instant::now();
        b();
        sb.push(t.elapsed());
    }
    (median(sa), median(sb))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(name: &str, value: Duration, floor: Duration) {
    let ratio = value.as_secs_f64() / floor.as_secs_f64();
    println!(
        "{name}: {:.3} ms, floor {:.3} ms, ratio {ratio:.2} (goal <= 1.5)",
        value.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3
    );
    let (value, floor) = (value.as_secs_f64() * 1e3, floor.as_secs_f64() * 1e3);
    let line = serde_json::json!({"figure": name, "value": value, "unit": "ms", "baseline": floor,
        "ratio": ratio, "goal": "<= 1.5"});
    println!("BENCH {line}");
}
