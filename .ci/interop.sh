#!/usr/bin/env bash
# Interop with independent TUF implementations, from a fresh clone with only python3 and cargo:
#  1. canonical JSON: keytool's encoder against securesystemslib's encode_canonical, byte for byte;
#  2. python-tuf 7's client reads, downloads from, and rejects tampered copies of a repository
#     built by keytool and served over HTTP on a loopback port the OS picks.
# Prints PASS/FAIL per check; exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

source .ci/venv.sh

# The debug binary: `cargo test --workspace` has just built it, so this costs nothing in CI.
cargo build --quiet -p keytool
keytool="$PWD/target/debug/keytool"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

status=0
"$py" .ci/interop/canonical_check.py --keytool "$keytool" \
  --corpus uptane/tests/data/canonical-json.json || status=1

mkdir -p "$work/serve"
"$py" -u -m http.server 0 --bind 127.0.0.1 --directory "$work/serve" >"$work/http.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/^Serving HTTP on .* port \([0-9][0-9]*\) .*/\1/p' "$work/http.log" | head -n1)"
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL python-tuf interop: the HTTP server did not start"; cat "$work/http.log"; exit 1
fi

"$py" .ci/interop/tuf_client_check.py --keytool "$keytool" --serve-dir "$work/serve" \
  --base-url "http://127.0.0.1:$port" || status=1

exit "$status"
