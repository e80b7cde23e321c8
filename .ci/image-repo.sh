#!/usr/bin/env bash
# The Image repository service end to end, as a release engineer and a stock TUF client use it:
#  1. the real `image-repo` binary serves HTTPS on a loopback port the OS picks, with a fresh
#     data directory (SQLite), and generates its development CA and online keys;
#  2. keytool makes a root naming those online keys (`image-repo keys`), lists a 1 MiB image in a
#     subdirectory, signs, and pushes it all with `keytool publish --server` (a second push must
#     send nothing);
#  3. python-tuf 7's ngclient Updater, trusting only the generated CA, refreshes and downloads the
#     image byte for byte; without the CA it must refuse the connection.
# The same again on a fresh PostgreSQL database when UPTANE_TEST_DATABASE_URL is set (.ci/run
# sets it). Prints PASS/FAIL per check; exits non-zero if any check fails.
# IMAGE_REPO_CI_PROFILE=release uses release binaries (default: debug, which `cargo test` built).
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/venv.sh

source .ci/service.sh
build "${IMAGE_REPO_CI_PROFILE:-debug}" image-repo keytool
image_repo="$bin/image-repo"
keytool="$bin/keytool"

# The python-tuf side: refresh and download over HTTPS trusting CA (argv: metadata URL, targets
# URL, CA file or "-" for the system roots, trusted root, target path, expected image, work dir).
tuf_download() {
  "$py" - "$@" <<'PY'
import sys
from pathlib import Path

import urllib3
from tuf.api import exceptions
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

metadata_url, targets_url, ca, root, target, expected, work = sys.argv[1:]


class CaFetcher(FetcherInterface):
    """python-tuf's fetcher interface over urllib3, verifying TLS against one CA file."""

    def __init__(self, ca_file):
        self._pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_file, retries=False)

    def _fetch(self, url):
        response = self._pool.request(
            "GET", url, preload_content=False, timeout=urllib3.Timeout(30)
        )
        if response.status != 200:
            response.release_conn()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return response.stream(64 * 1024)


work = Path(work)
(work / "metadata").mkdir(parents=True, exist_ok=True)
(work / "downloads").mkdir(parents=True, exist_ok=True)
updater = Updater(
    metadata_dir=str(work / "metadata"),
    metadata_base_url=metadata_url,
    target_dir=str(work / "downloads"),
    target_base_url=targets_url,
    fetcher=None if ca == "-" else CaFetcher(ca),
    bootstrap=Path(root).read_bytes(),
)
updater.refresh()
info = updater.get_targetinfo(target)
if info is None:
    sys.exit(f"{target} is not in the repository")
downloaded = Path(updater.download_target(info))
if downloaded.read_bytes() != Path(expected).read_bytes():
    sys.exit(f"{downloaded} differs from the published image")
print(f"{target}: {info.length} bytes, sha256 {info.hashes['sha256'][:16]}...")
PY
}

# One scenario: NAME [DATABASE_URL].
scenario() {
  local name="$1" database_url="${2:-}"
  local dir="$work/$name"
  mkdir -p "$dir/ws"
  local token
  token="$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
  local flags=(--data-dir "$dir/data" --listen 127.0.0.1:0 --upload-token "$token")
  if [ -n "$database_url" ]; then flags+=(--database-url "$database_url"); fi

  # The service's online keys, for the root the release engineers sign offline.
  if ! "$image_repo" "${flags[@]}" keys >"$dir/keys.json" 2>>"$dir/server.log"; then
    fail "image-repo keys [$name]"; tail -n 20 "$dir/server.log"; return
  fi
  local pid port
  serve "$dir" "$image_repo" "${flags[@]}"
  if [ -z "$port" ]; then
    fail "image-repo [$name]: the service did not start"; tail -n 20 "$dir/server.log"; return
  fi
  local base="https://localhost:$port" ca="$dir/data/tls/ca.pem"

  (
    cd "$dir/ws"
    for key in root targets; do "$keytool" gen-key --out "$key.pem" >/dev/null; done
    "$keytool" init --repo repo --kind image --root-key root.pem --targets-key targets.pem \
      --snapshot-key "$dir/data/keys/snapshot.pub.json" \
      --timestamp-key "$dir/data/keys/timestamp.pub.json" >/dev/null
    head -c 1048576 /dev/urandom >app-1.0.bin
    "$keytool" add-target --repo repo app-1.0.bin --path ecu/bcm/app-1.0.bin \
      --hardware-id acme-bcm-rev3 --release-counter 1 >/dev/null
    "$keytool" sign --repo repo --role targets --key targets.pem >/dev/null
  ) >"$dir/keytool.log" 2>&1 || { fail "keytool [$name]: preparing the release"; cat "$dir/keytool.log"; return; }

  local push=("$keytool" publish --repo "$dir/ws/repo" --server "$base" --token "$token" --ca "$ca")
  if "${push[@]}" >"$dir/push.txt" 2>&1; then
    pass "keytool publish --server [$name]: $(sed ':a;N;$!ba;s/\n/; /g' "$dir/push.txt")"
  else
    fail "keytool publish --server [$name]"; cat "$dir/push.txt"; tail -n 20 "$dir/server.log"; return
  fi
  if "${push[@]}" --json >"$dir/push2.json" 2>&1 \
    && "$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(1 if r["blobs_uploaded"] or r["accepted"] else 0)' "$dir/push2.json"; then
    pass "keytool publish --server [$name]: publishing again sends nothing"
  else
    fail "keytool publish --server [$name]: publishing again"; cat "$dir/push2.json"
  fi

  local root="$dir/ws/repo/metadata/1.root.json"
  if out="$(tuf_download "$base/metadata/" "$base/targets/" "$ca" "$root" ecu/bcm/app-1.0.bin \
    "$dir/ws/app-1.0.bin" "$dir/tuf" 2>&1)"; then
    pass "python-tuf 7 over HTTPS [$name]: refresh and download, bytes equal: $out"
  else
    fail "python-tuf 7 over HTTPS [$name]: $out"
  fi
  # Without the generated CA (python-tuf's default fetcher, system roots) the TLS handshake must
  # fail: the check above really verified the service's certificate.
  if out="$(tuf_download "$base/metadata/" "$base/targets/" - "$root" ecu/bcm/app-1.0.bin \
    "$dir/ws/app-1.0.bin" "$dir/tuf-untrusted" 2>&1)"; then
    fail "python-tuf 7 [$name]: accepted the service without its CA"
  elif grep -q CERTIFICATE_VERIFY_FAILED <<<"$out"; then
    pass "python-tuf 7 [$name]: without the generated CA, certificate verification fails"
  else
    fail "python-tuf 7 [$name]: without the CA it failed, but not on the certificate: $out"
  fi

  stop
}

run_scenarios ci_image_repo
