#!/usr/bin/env bash
# The Director repository service end to end, as an operator and a stock TUF client use it:
#  1. the real `director-repo` binary serves HTTPS on a loopback port the OS picks, with a fresh
#     data directory (SQLite), and generates its development CA, fleet CA and online keys;
#  2. keytool holds the offline root ceremony for a Director root naming those online keys (the
#     time key named by the root's `time_attestation` field), and the operator uploads it;
#  3. a Primary, in Python, provisions itself with the fleet credential: its ECU keys and a CSR
#     for its TLS key made on the spot (the key never leaves it), and receives its certificate;
#  4. python-tuf 7's ngclient Updater, presenting that client certificate and trusting only the
#     generated CA, refreshes the vehicle's Director metadata (an empty Targets naming its VIN);
#     without the certificate, or for another VIN, the service must refuse.
# The same again on a fresh PostgreSQL database when UPTANE_TEST_DATABASE_URL is set (.ci/run
# sets it). Prints PASS/FAIL per check; exits non-zero if any check fails.
# DIRECTOR_REPO_CI_PROFILE=release uses release binaries (default: debug, which `cargo test` built).
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/venv.sh
py="$(cd "$(dirname "$py")" && pwd)/$(basename "$py")" # the ceremony below runs elsewhere

source .ci/service.sh
build "${DIRECTOR_REPO_CI_PROFILE:-debug}" director-repo keytool
director="$bin/director-repo"
keytool="$bin/keytool"

# Operator and vehicle sides in Python (argv: base URL, CA file, operator token, fleet token,
# Director root file, VIN, work dir).
vehicle() {
  "$py" - "$@" <<'PY'
import json
import sys
from pathlib import Path

import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from tuf.api import exceptions
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

base, ca, operator_token, fleet_token, root, vin, work = sys.argv[1:]
work = Path(work)
work.mkdir(parents=True, exist_ok=True)
http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca, retries=False)


def call(method, path, token, body):
    response = http.request(
        method, base + path, body=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status, response.data


status, data = call("PUT", "/api/v1/root", operator_token, Path(root).read_bytes())
if status != 200:
    sys.exit(f"root upload: HTTP {status} {data!r}")


def tuf_key(private):
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": raw.hex()}}


# The Primary's first start: ECU keys, a TLS key and its CSR, the fleet credential.
ecus = [("TCU-CI-1", "acme-tcu"), ("BCM-CI-1", "acme-bcm")]
tls_key = ec.generate_private_key(ec.SECP256R1())
csr = (
    x509.CertificateSigningRequestBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, vin)]))
    .sign(tls_key, hashes.SHA256())
    .public_bytes(serialization.Encoding.PEM)
    .decode()
)
request = {
    "vin": vin,
    "primary": ecus[0][0],
    "ecus": [
        {"serial": s, "hardware_id": h, "public_key": tuf_key(ed25519.Ed25519PrivateKey.generate())}
        for s, h in ecus
    ],
    "csr": csr,
}
status, data = call("POST", "/provisioning", "not-the-fleet-token", json.dumps(request))
if status != 401:
    sys.exit(f"provisioning with a wrong credential: HTTP {status}, expected 401")
status, data = call("POST", "/provisioning", fleet_token, json.dumps(request))
if status != 201:
    sys.exit(f"provisioning: HTTP {status} {data!r}")
provisioned = json.loads(data)
(work / "client.pem").write_text(provisioned["certificate"])
(work / "client.key").write_bytes(
    tls_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
)
names = x509.load_pem_x509_certificate(provisioned["certificate"].encode()).extensions.get_extension_for_class(
    x509.SubjectAlternativeName
).value.get_values_for_type(x509.DNSName)
if names != [vin]:
    sys.exit(f"the certificate names {names}, not [{vin}]")


class ClientCertFetcher(FetcherInterface):
    """python-tuf's fetcher interface over urllib3: the service's CA, the vehicle's certificate."""

    def __init__(self, with_certificate):
        extra = {"cert_file": str(work / "client.pem"), "key_file": str(work / "client.key")}
        self._pool = urllib3.PoolManager(
            cert_reqs="CERT_REQUIRED", ca_certs=ca, retries=False, **(extra if with_certificate else {})
        )

    def _fetch(self, url):
        response = self._pool.request("GET", url, preload_content=False, timeout=urllib3.Timeout(30))
        if response.status != 200:
            response.release_conn()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return response.stream(64 * 1024)


def refresh(name, path_vin, with_certificate):
    metadata = work / name
    metadata.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        metadata_dir=str(metadata),
        metadata_base_url=f"{base}/vehicles/{path_vin}/metadata/",
        target_dir=str(work / "targets"),
        fetcher=ClientCertFetcher(with_certificate),
        bootstrap=Path(root).read_bytes(),
    )
    updater.refresh()
    return metadata


metadata = refresh("metadata", vin, True)
targets = json.loads((metadata / "targets.json").read_bytes())["signed"]
if targets.get("custom", {}).get("vin") != vin or targets["targets"]:
    sys.exit(f"unexpected Director targets: {targets}")
for name, path_vin, expected in [("no-cert", vin, 401), ("other-vin", "WVWZZZ1JZXW999999", 403)]:
    try:
        refresh(name, path_vin, name != "no-cert")
        sys.exit(f"{name}: the refresh was not refused")
    except exceptions.DownloadHTTPError as e:
        if e.status_code != expected:
            sys.exit(f"{name}: HTTP {e.status_code}, expected {expected}")
print(f"provisioned ({provisioned['outcome']}); targets v{targets['version']} for {vin}; "
      "refused without the certificate (401) and for another VIN (403)")
PY
}

# One scenario: NAME [DATABASE_URL].
scenario() {
  local name="$1" database_url="${2:-}"
  local dir="$work/$name"
  mkdir -p "$dir/ws"
  local token fleet
  token="$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
  fleet="$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
  local flags=(--data-dir "$dir/data" --listen 127.0.0.1:0 --operator-token "$token"
    --provisioning-token "$fleet")
  if [ -n "$database_url" ]; then flags+=(--database-url "$database_url"); fi

  # The service's online keys, for the root the key holders sign offline.
  if ! "$director" "${flags[@]}" keys >"$dir/keys.json" 2>>"$dir/server.log"; then
    fail "director-repo keys [$name]"; tail -n 20 "$dir/server.log"; return
  fi
  local keys="$dir/data/keys"
  (
    # (A `||` after the subshell switches `set -e` off inside it: chain every step.)
    cd "$dir/ws" &&
      "$keytool" gen-key --out root.pem >/dev/null &&
      "$keytool" init --repo repo --kind director --root-key root.pub.json \
        --targets-key "$keys/targets.pub.json" --snapshot-key "$keys/snapshot.pub.json" \
        --timestamp-key "$keys/timestamp.pub.json" --time-key "$keys/time.pub.json" >/dev/null &&
      "$keytool" sign --repo repo --role root --key root.pem >/dev/null &&
      "$keytool" publish --repo repo >/dev/null
  ) >"$dir/keytool.log" 2>&1 || { fail "keytool [$name]: the Director root ceremony"; cat "$dir/keytool.log"; return; }

  local pid port
  serve "$dir" "$director" "${flags[@]}"
  if [ -z "$port" ]; then
    fail "director-repo [$name]: the service did not start"; tail -n 20 "$dir/server.log"; return
  fi

  if out="$(vehicle "https://localhost:$port" "$dir/data/tls/ca.pem" "$token" "$fleet" \
    "$dir/ws/repo/metadata/1.root.json" WVWZZZ1JZXW000042 "$dir/vehicle" 2>&1)"; then
    pass "python-tuf 7 refreshes a provisioned vehicle's Director metadata over mTLS [$name]: $out"
  else
    fail "python-tuf 7 and the Director [$name]: $out"; tail -n 20 "$dir/server.log"
  fi

  stop
}

run_scenarios ci_director_repo
