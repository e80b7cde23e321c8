# Sourced by the interop scripts: a virtual environment with python-tuf 7 and securesystemslib
# (with pyca/cryptography) under target/ci-venv, created once; sets $py to its interpreter.
venv=target/ci-venv
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv"; then
    # Debian's python3 ships venv separately; CI runs as root.
    apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "tuf>=7,<8" "securesystemslib[crypto]"
