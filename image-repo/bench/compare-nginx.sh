#!/usr/bin/env bash
# Requests per second from image-repo against nginx serving the same bytes, in the same run, both
# over HTTPS with the same certificate and keep-alive, on loopback (issue 3's benchmark):
#   timestamp.json, a 1000-target targets.json, and a 1 MiB image.
# The release image-repo gets a repository of 1000 targets pushed with `keytool publish
# --server`; nginx (Debian's package, installed here if missing, with wrk as load generator)
# serves copies of the exact bytes image-repo serves. Each figure: wrk, 2 threads, 32
# connections, DURATION seconds (default 5) after a 1 s warm-up, image-repo and nginx taking
# turns for ROUNDS rounds (default 2); the best round of each counts, since on a shared machine
# noise only ever lowers a figure. Prints one line per figure:
#   image-repo <figure>: X req/s, nginx Y req/s, ratio Z (goal >= 0.8)
# each followed by the same figure as a `BENCH {json}` line for `fixtures bench`; when nginx or wrk
# is missing and cannot be installed it prints `BENCH-SKIPPED <reason>` and exits 0.
# Usage: image-repo/bench/compare-nginx.sh [DURATION_SECONDS [ROUNDS]]
set -euo pipefail
cd "$(dirname "$0")/../.."

duration="${1:-5}"
rounds="${2:-2}"
threads=2
connections=32

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  echo "installing nginx and wrk from Debian's packages" >&2
  if ! { apt-get update -qq && apt-cache policy nginx wrk | grep -E '^[a-z]|Candidate' >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; }; then
    echo "BENCH-SKIPPED nginx or wrk missing and apt-get could not install them"
    exit 0
  fi
fi

cargo build --quiet --release -p image-repo -p keytool
image_repo="${CARGO_TARGET_DIR:-$PWD/target}/release/image-repo"
keytool="${CARGO_TARGET_DIR:-$PWD/target}/release/keytool"

work="$(mktemp -d)"
chmod 755 "$work" # nginx workers run as an unprivileged user and read the document root
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# --- image-repo with 1000 targets -------------------------------------------------------------
token="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
flags=(--data-dir "$work/data" --listen 127.0.0.1:0 --upload-token "$token")
"$image_repo" "${flags[@]}" keys >/dev/null 2>"$work/image-repo.log"
NO_COLOR=1 RUST_LOG=warn,image_repo=info "$image_repo" "${flags[@]}" serve 2>>"$work/image-repo.log" &
pids+=("$!")
port=""
for _ in $(seq 300); do
  port="$(grep 'listening' "$work/image-repo.log" | grep -o '127\.0\.0\.1:[0-9]*' | head -n1 | cut -d: -f2 || true)"
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "image-repo did not start" >&2; cat "$work/image-repo.log" >&2; exit 1; }
image_base="https://localhost:$port"
ca="$work/data/tls/ca.pem"

echo "preparing a release of 1000 targets with keytool" >&2
mkdir -p "$work/ws/images"
(
  cd "$work/ws"
  "$keytool" gen-key --out root.pem >/dev/null
  "$keytool" gen-key --out targets.pem >/dev/null
  "$keytool" init --repo repo --kind image --root-key root.pem --targets-key targets.pem \
    --snapshot-key "$work/data/keys/snapshot.pub.json" \
    --timestamp-key "$work/data/keys/timestamp.pub.json" >/dev/null
  head -c 1048576 /dev/urandom >images/image-1MiB.bin
  "$keytool" add-target --repo repo images/image-1MiB.bin --path ecu/bench/image-1MiB.bin \
    --hardware-id bench-ecu --release-counter 1 >/dev/null
  for i in $(seq 1 999); do
    printf 'small image %04d\n' "$i" >"images/app-$i.bin"
    "$keytool" add-target --repo repo "images/app-$i.bin" --path "ecu/app-$i.bin" \
      --hardware-id bench-ecu --release-counter 1 >/dev/null
  done
  "$keytool" sign --repo repo --role targets --key targets.pem >/dev/null
  "$keytool" publish --repo repo --server "$image_base" --token "$token" --ca "$ca" >&2
)

# --- nginx serving the same bytes ---------------------------------------------------------------
sha256="$(sha256sum "$work/ws/images/image-1MiB.bin" | cut -d' ' -f1)"
declare -A paths=(
  [timestamp.json]="/metadata/timestamp.json"
  [targets.json (1000 targets)]="/metadata/1.targets.json"
  [1 MiB image]="/targets/ecu/bench/$sha256.image-1MiB.bin"
)
figures=("timestamp.json" "targets.json (1000 targets)" "1 MiB image")
mkdir -p "$work/www"
for figure in "${figures[@]}"; do
  path="${paths[$figure]}"
  mkdir -p "$work/www$(dirname "$path")"
  curl -sf --cacert "$ca" "$image_base$path" -o "$work/www$path"
done
chmod -R a+rX "$work/www"
echo "bytes per figure: $(for f in "${figures[@]}"; do printf '%s=%s ' "$f" "$(stat -c %s "$work/www${paths[$f]}")"; done)" >&2

nginx_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $(nproc);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  types { application/json json; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    server_name localhost;
    ssl_certificate $work/data/tls/server.pem;
    ssl_certificate_key $work/data/tls/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $work/www;
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=("$!")
for _ in $(seq 100); do
  curl -sf --cacert "$ca" "https://localhost:$nginx_port/metadata/timestamp.json" -o /dev/null && break
  sleep 0.1
done
nginx_base="https://localhost:$nginx_port"
for figure in "${figures[@]}"; do
  cmp -s <(curl -sf --cacert "$ca" "$nginx_base${paths[$figure]}") \
    <(curl -sf --cacert "$ca" "$image_base${paths[$figure]}") \
    || { echo "nginx and image-repo serve different bytes for $figure" >&2; exit 1; }
done

# --- load ---------------------------------------------------------------------------------------
# Requests per second for one URL; fails on errors or non-2xx answers.
rps() {
  local url="$1" out
  wrk -t"$threads" -c"$connections" -d1s "$url" >/dev/null # warm-up: connections, caches
  out="$(wrk -t"$threads" -c"$connections" -d"${duration}s" "$url")"
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "wrk reported errors for $url:" >&2; echo "$out" >&2; return 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

echo "wrk: $threads threads, $connections connections, ${duration}s per run, best of $rounds rounds, $(nproc) cores" >&2
for figure in "${figures[@]}"; do
  ours=0 theirs=0
  for round in $(seq "$rounds"); do
    a="$(rps "$image_base${paths[$figure]}")"
    b="$(rps "$nginx_base${paths[$figure]}")"
    echo "  $figure, round $round: image-repo $a req/s, nginx $b req/s" >&2
    ours="$(best "$ours" "$a")" theirs="$(best "$theirs" "$b")"
  done
  awk -v f="$figure" -v a="$ours" -v b="$theirs" \
    'BEGIN { printf "image-repo %s: %.0f req/s, nginx %.0f req/s, ratio %.2f (goal >= 0.8)\n", f, a, b, a / b
      printf "BENCH {\"figure\": \"image-repo %s\", \"value\": %.0f, \"unit\": \"req/s\", \"baseline\": %.0f, \"ratio\": %.4f, \"goal\": \">= 0.8\"}\n", f, a, b, a / b }'
done
