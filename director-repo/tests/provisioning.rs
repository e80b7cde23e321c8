//! Provisioning by Primaries with the fleet credential: a Primary registers its vehicle with a
//! CSR and reads its metadata with the certificate it gets back (its key never leaves it);
//! the credential, the CSR's proof of possession and the names in the certificate are
//! attacked; a provisioned VIN cannot be taken over with other ECU keys unless the operator
//! allows it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rcgen::{CertificateParams, KeyPair};
use serde_json::{Value, json};
use support::{Backend, PRIMARY, Reply, TOKEN, TestServer, VIN, World};
use uptane::crypto::{PrivateKey, Signer};

const FLEET_TOKEN: &str = "fleet-provisioning-secret";

/// A Primary's TLS key and a CSR for it (naming `names`).
fn csr(names: &[&str]) -> (KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let request = params.serialize_request(&key).unwrap();
    (key, request.pem().unwrap())
}

/// The CSR with one character of its last base64 line (inside the signature) changed.
fn flip_signature_bit(pem: &str) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    let last = lines.len() - 2;
    let first = if lines[last].starts_with('A') { "B" } else { "A" };
    lines[last].replace_range(0..1, first);
    lines.join("\n") + "\n"
}

fn provision(server: &TestServer, token: Option<&str>, body: &Value) -> Reply {
    let mut request = server.agent.post(format!("{}/provisioning", server.base));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    TestServer::reply(request.send(body.to_string().as_bytes()))
}

fn request(world: &World, csr: &str) -> Value {
    let mut body = world.registration();
    body["csr"] = json!(csr);
    body
}

fn start(world: &mut World) {
    let mut config = world.config();
    config.provisioning_token = Some(FLEET_TOKEN.into());
    world.start_with(config);
    let reply = world.server().put_admin("/api/v1/root", &world.root_v1());
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn a_primary_provisions_itself(backend: &Backend) {
    let mut world = World::new(backend);
    start(&mut world);
    let server = world.server();
    let (key, first) = csr(&[VIN]);
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, &first));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["outcome"], "registered");
    assert!(answer.get("private_key").is_none(), "the key stays in the vehicle");

    // The inventory is recorded as the Primary sent it.
    let state = server.state();
    assert_eq!(state["primary"], PRIMARY);
    assert_eq!(state["ecus"].as_array().unwrap().len(), 2);

    // With its own key and the certificate, the vehicle reads its metadata.
    let agent = server.agent_with(answer["certificate"].as_str().unwrap(), &key.serialize_pem());
    let url = format!("{}/vehicles/{VIN}/metadata/timestamp.json", server.base);
    let reply = TestServer::reply(agent.get(&url).call());
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Starting again with the same inventory re-issues a certificate; both are recorded.
    let (_, again) = csr(&[VIN]);
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, &again));
    assert_eq!((reply.status, reply.json()["outcome"].clone()), (201, json!("reissued")));
    let history = server.get_admin(&format!("/api/v1/vehicles/{VIN}/provisioning")).json();
    assert_eq!(history["certificates"].as_array().unwrap().len(), 2);
}

fn the_credential_and_the_csr_are_checked(backend: &Backend) {
    let mut world = World::new(backend);
    start(&mut world);
    let server = world.server();
    let (_, good) = csr(&[VIN]);
    for token in [None, Some("guess"), Some(TOKEN)] {
        let reply = provision(server, token, &request(&world, &good));
        assert_eq!((reply.status, reply.code().as_str()), (401, "bad_provisioning_credential"));
    }
    // A CSR whose signature does not verify proves no key: refused, nothing registered.
    let forged = flip_signature_bit(&good);
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, &forged));
    assert_eq!((reply.status, reply.code().as_str()), (400, "bad_csr"));
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, "not a csr"));
    assert_eq!((reply.status, reply.code().as_str()), (400, "bad_csr"));
    assert_eq!(server.get_admin(&format!("/api/v1/vehicles/{VIN}")).code(), "unknown_vehicle");

    // A CSR asking for another vehicle's name still gets a certificate naming only its VIN.
    let other = "WVWZZZ1JZXW000002";
    let (key, greedy) = csr(&[other, VIN]);
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, &greedy));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let agent =
        server.agent_with(reply.json()["certificate"].as_str().unwrap(), &key.serialize_pem());
    let url = format!("{}/vehicles/{other}/metadata/timestamp.json", server.base);
    let reply = TestServer::reply(agent.get(&url).call());
    assert_eq!((reply.status, reply.code().as_str()), (403, "wrong_vehicle"));

    // Without a configured credential, nobody provisions.
    world.start();
    let reply = provision(world.server(), Some(FLEET_TOKEN), &request(&world, &good));
    assert_eq!((reply.status, reply.code().as_str()), (404, "provisioning_disabled"));
}

fn other_keys_need_the_operator(backend: &Backend) {
    let mut world = World::new(backend);
    start(&mut world);
    let server = world.server();
    let (_, csr1) = csr(&[VIN]);
    assert_eq!(provision(server, Some(FLEET_TOKEN), &request(&world, &csr1)).status, 201);
    let key_id = |state: &Value| {
        state["ecus"].as_array().unwrap().iter().find(|e| e["serial"] == PRIMARY).unwrap()["key_id"]
            .clone()
    };
    let before = key_id(&server.state());

    // Someone holding the fleet credential tries to take the VIN over with their own keys.
    let attacker = PrivateKey::ed25519_from_seed(&[99; 32]).unwrap();
    let mut takeover = request(&world, &csr(&[VIN]).1);
    takeover["ecus"][0]["public_key"] = serde_json::to_value(attacker.public_key()).unwrap();
    let reply = provision(server, Some(FLEET_TOKEN), &takeover);
    assert_eq!((reply.status, reply.code().as_str()), (409, "already_provisioned"));
    assert_eq!(key_id(&server.state()), before);

    // A replaced Primary: the operator allows one re-provisioning; the new key is recorded.
    let path = format!("/api/v1/vehicles/{VIN}/reprovisioning");
    assert_eq!(server.post_as(&path, None, &json!({})).status, 401);
    let reply = server.post_admin(&path, &json!({}));
    assert_eq!(reply.status, 201, "{}", reply.text());
    let reply = provision(server, Some(FLEET_TOKEN), &takeover);
    assert_eq!((reply.status, reply.json()["outcome"].clone()), (201, json!("reprovisioned")));
    assert_eq!(json!(attacker.key_id()), key_id(&server.state()));

    // The allowance was used up: the old keys are refused now.
    let reply = provision(server, Some(FLEET_TOKEN), &request(&world, &csr1));
    assert_eq!((reply.status, reply.code().as_str()), (409, "already_provisioned"));
    let reply = server.post_admin("/api/v1/vehicles/WVWZZZ1JZXW999999/reprovisioning", &json!({}));
    assert_eq!((reply.status, reply.code().as_str()), (404, "unknown_vehicle"));
}

on_both_backends!(
    a_primary_provisions_itself,
    the_credential_and_the_csr_are_checked,
    other_keys_need_the_operator
);
