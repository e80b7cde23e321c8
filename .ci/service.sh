# Sourced by the service scripts (.ci/image-repo.sh, .ci/director-repo.sh), from the workspace
# root: a scratch directory cleaned on exit, PASS/FAIL bookkeeping, a service started on a port
# the OS picks, and each scenario run on SQLite and again on a fresh PostgreSQL database when
# UPTANE_TEST_DATABASE_URL is set.

work="$(mktemp -d)"
server_pids=()
databases=()
admin_url="${UPTANE_TEST_DATABASE_URL:-}"
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for db in "${databases[@]}"; do
    psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

status=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; status=1; }

# build PROFILE PACKAGE...: builds the packages' binaries (`release`, or `debug`, which `cargo
# test` built) and sets $bin to the directory holding them.
build() {
  local profile="$1"
  shift
  local packages=()
  for package in "$@"; do packages+=(-p "$package"); done
  if [ "$profile" = release ]; then
    cargo build --quiet --release "${packages[@]}"
  else
    cargo build --quiet "${packages[@]}"
  fi
  bin="${CARGO_TARGET_DIR:-$PWD/target}/$profile"
}

# serve DIR BINARY FLAG...: starts `BINARY FLAG... serve`, logging to DIR/server.log, and sets
# $pid and $port ($port stays empty when the service did not start).
serve() {
  local dir="$1" binary="$2"
  shift 2
  NO_COLOR=1 "$binary" "$@" serve 2>>"$dir/server.log" &
  pid=$!
  server_pids+=("$pid")
  port=""
  for _ in $(seq 300); do
    port="$(grep 'listening' "$dir/server.log" | grep -o '127\.0\.0\.1:[0-9]*' | head -n1 | cut -d: -f2 || true)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# run_scenarios DATABASE_PREFIX: the caller's `scenario NAME [DATABASE_URL]` on SQLite, then on
# a fresh PostgreSQL database; exits with the overall status.
run_scenarios() {
  scenario sqlite
  if [ -n "$admin_url" ]; then
    local db="$1_$$_$RANDOM"
    if psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null; then
      databases+=("$db")
      scenario postgres "${admin_url%/*}/$db"
    else
      fail "PostgreSQL: cannot create a database through UPTANE_TEST_DATABASE_URL"
    fi
  fi
  exit "$status"
}
