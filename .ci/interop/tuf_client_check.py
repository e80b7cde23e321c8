#!/usr/bin/env python3
"""python-tuf 7 (an independent TUF client) reads an Image repository that keytool built.

keytool builds a repository with Ed25519 and ECDSA P-256 keys, a 2-of-2 root rotated to a new
root (v1 -> v2), an image in a subdirectory, and a supplier delegation. It is published into
SERVE/good (served over HTTP by the caller), and two tampered copies are made next to it:

- SERVE/bad-image: one byte flipped in every stored copy of the image;
- SERVE/bad-targets: a field inside targets' `signed` edited, signature kept, with snapshot and
  timestamp re-signed validly (by securesystemslib, with the real keys) so that only the
  targets signature can catch it.

python-tuf must download the good images byte for byte and reject both tampered copies.
Prints one PASS/FAIL line per check; exits 1 if any fails.
"""

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api import exceptions
from tuf.api.metadata import MetaFile, Metadata
from tuf.ngclient import Updater

APP = "ecu/bcm/app-1.0.bin"
TCU = "supplierA/tcu-1.0.bin"


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, name, function):
        try:
            detail = function()
            print(f"PASS {name}" + (f": {detail}" if detail else ""))
        except Exception as e:  # noqa: BLE001 - every failure is reported the same way
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")


class Keytool:
    def __init__(self, binary, cwd):
        self.binary, self.cwd = binary, cwd

    def __call__(self, *args):
        run = subprocess.run([self.binary, *args], cwd=self.cwd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"keytool {' '.join(args)} exited {run.returncode}:\n{run.stderr}")
        return run.stdout


KEYS = [("root1", "ed25519"), ("root2", "ed25519"), ("root3", "ecdsa-p256"),
        ("targets", "ecdsa-p256"), ("snapshot", "ed25519"), ("timestamp", "ed25519"),
        ("supplier", "ed25519")]


def build(keytool, ws):
    """Builds and publishes the repository in ws/repo; returns the images by target path."""
    for name, kind in KEYS:
        keytool("gen-key", "--type", kind, "--out", f"{name}.pem")
    rng = random.Random(7)
    images = {APP: bytes(rng.randrange(256) for _ in range(150_000)), TCU: b"tcu firmware 1.0\n"}
    for path, data in images.items():
        (ws / Path(path).name).write_bytes(data)
    keytool("init", "--repo", "repo", "--kind", "image",
            "--root-key", "root1.pem", "--root-key", "root2.pem", "--root-threshold", "2",
            "--targets-key", "targets.pem", "--snapshot-key", "snapshot.pub.json",
            "--timestamp-key", "timestamp.pub.json")
    keytool("add-target", "--repo", "repo", "app-1.0.bin", "--path", APP,
            "--hardware-id", "acme-bcm-rev3", "--release-counter", "1")
    keytool("delegate", "--repo", "repo", "--to", "supplierA", "--key", "supplier.pub.json",
            "--paths", "supplierA/*", "--hardware-id", "acme-tcu")
    keytool("add-target", "--repo", "repo", "tcu-1.0.bin", "--path", TCU, "--role", "supplierA",
            "--hardware-id", "acme-tcu", "--release-counter", "3")
    keytool("sign", "--repo", "repo", "--role", "targets", "--key", "targets.pem")
    keytool("sign", "--repo", "repo", "--role", "supplierA", "--key", "supplier.pem")
    publish = ("publish", "--repo", "repo", "--snapshot-key", "snapshot.pem",
               "--timestamp-key", "timestamp.pem")
    keytool(*publish)
    keytool("rotate-root", "--repo", "repo", "--root-key", "root1.pub.json",
            "--root-key", "root3.pem", "--root-threshold", "2")
    keytool("sign", "--repo", "repo", "--role", "root", "--key", "root1.pem", "--key", "root2.pem")
    keytool(*publish)
    keytool("verify", "--repo", "repo")
    return images


def copy_repo(ws, serve, name):
    for part in ("metadata", "targets"):
        shutil.copytree(ws / "repo" / part, serve / name / part)
    return serve / name


def current_targets_file(repo):
    """The targets file the published timestamp and snapshot name."""
    meta_dir = repo / "metadata"
    timestamp = Metadata.from_file(str(meta_dir / "timestamp.json"))
    snapshot = Metadata.from_file(str(meta_dir / f"{timestamp.signed.snapshot_meta.version}.snapshot.json"))
    return meta_dir / f"{snapshot.signed.meta['targets.json'].version}.targets.json"


def flip_image_copies(repo, path):
    """Flips a byte in every stored hash copy of `path`."""
    entry = json.loads(current_targets_file(repo).read_bytes())["signed"]["targets"][path]
    directory, base = path.rsplit("/", 1)
    for digest in entry["hashes"].values():
        copy = repo / "targets" / directory / f"{digest}.{base}"
        data = bytearray(copy.read_bytes())
        data[len(data) // 2] ^= 0x01
        copy.write_bytes(bytes(data))
    return len(entry["hashes"])


def tamper_targets_body(ws, repo):
    """Edits targets' signed body (keeping its signature) and re-signs snapshot and timestamp
    with the real keys, so only the targets signature check can catch it."""
    meta_dir = repo / "metadata"
    timestamp = Metadata.from_file(str(meta_dir / "timestamp.json"))
    snapshot_name = f"{timestamp.signed.snapshot_meta.version}.snapshot.json"
    snapshot = Metadata.from_file(str(meta_dir / snapshot_name))
    targets_meta = snapshot.signed.meta["targets.json"]
    targets_file = meta_dir / f"{targets_meta.version}.targets.json"
    document = json.loads(targets_file.read_bytes())
    document["signed"]["targets"][APP]["custom"]["releaseCounter"] = 99
    targets_bytes = json.dumps(document).encode()
    targets_file.write_bytes(targets_bytes)

    def signer(name):
        key = load_pem_private_key((ws / f"{name}.pem").read_bytes(), password=None)
        return CryptoSigner(key)

    def describe(version, data):
        return MetaFile(version=version, length=len(data),
                        hashes={"sha256": hashlib.sha256(data).hexdigest()})

    snapshot.signed.meta["targets.json"] = describe(targets_meta.version, targets_bytes)
    snapshot.sign(signer("snapshot"))
    snapshot_bytes = snapshot.to_bytes()
    (meta_dir / snapshot_name).write_bytes(snapshot_bytes)
    timestamp.signed.snapshot_meta = describe(snapshot.signed.version, snapshot_bytes)
    timestamp.signed.version += 1
    timestamp.sign(signer("timestamp"))
    timestamp.to_file(str(meta_dir / "timestamp.json"))
    return signer("snapshot").public_key.keyid


def client(ws, tmp, base_url, name):
    """A fresh python-tuf client trusting 1.root.json, as a vehicle provisioned at v1."""
    metadata_dir = tmp / f"{name}-metadata"
    target_dir = tmp / f"{name}-downloads"
    metadata_dir.mkdir()
    target_dir.mkdir()
    shutil.copy(ws / "repo" / "metadata" / "1.root.json", metadata_dir / "root.json")
    # bootstrap=None: the trust anchor is the root.json placed in metadata_dir above.
    updater = Updater(str(metadata_dir), f"{base_url}/{name}/metadata/", target_dir=str(target_dir),
                      target_base_url=f"{base_url}/{name}/targets/", bootstrap=None)
    return updater, metadata_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keytool", required=True)
    parser.add_argument("--serve-dir", required=True, type=Path, help="directory served at --base-url")
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args()
    checks = Checks()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ws = tmp / "workspace"
        ws.mkdir()
        keytool = Keytool(args.keytool, ws)
        images = build(keytool, ws)
        good = copy_repo(ws, args.serve_dir, "good")
        bad_image = copy_repo(ws, args.serve_dir, "bad-image")
        bad_targets = copy_repo(ws, args.serve_dir, "bad-targets")

        updater, metadata_dir = client(ws, tmp, args.base_url, "good")

        def refresh():
            updater.refresh()
            root = json.loads((metadata_dir / "root.json").read_bytes())["signed"]
            if root["version"] != 2:
                raise AssertionError(f"trusted root is v{root['version']}, expected v2")
            return "root v1 -> v2 rotation, Ed25519 and ECDSA P-256 signatures accepted"

        checks.check("python-tuf refreshes the keytool repository", refresh)

        def key_files():
            listed = set()
            for name in ("1.root.json", "2.root.json", current_targets_file(good).name):
                signed = json.loads((good / "metadata" / name).read_bytes())["signed"]
                listed |= set(signed.get("keys", {})) | set(signed.get("delegations", {}).get("keys", {}))
            for name, _ in KEYS:
                key = load_pem_private_key((ws / f"{name}.pem").read_bytes(), password=None)
                if CryptoSigner(key).public_key.keyid not in listed:
                    raise AssertionError(f"{name}.pem: securesystemslib computes another key id")
            return f"{len(KEYS)} PKCS#8 keys (Ed25519, ECDSA P-256), same key ids"

        checks.check("pyca/cryptography and securesystemslib read keytool's private keys", key_files)

        def download(path):
            def run():
                info = updater.get_targetinfo(path)
                if info is None:
                    raise AssertionError(f"{path} not found")
                data = Path(updater.download_target(info)).read_bytes()
                if data != images[path]:
                    raise AssertionError(f"{path}: downloaded bytes differ")
                return f"{len(data)} bytes identical, hashes {', '.join(info.hashes)}"
            return run

        checks.check(f"python-tuf downloads {APP}", download(APP))
        checks.check(f"python-tuf downloads delegated {TCU}", download(TCU))

        def unknown_target():
            info = updater.get_targetinfo("supplierA/absent.bin")
            if info is not None:
                raise AssertionError("found a target nobody listed")

        checks.check("python-tuf finds no unlisted target", unknown_target)

        def tampered_image():
            copies = flip_image_copies(bad_image, APP)
            tampered, _ = client(ws, tmp, args.base_url, "bad-image")
            tampered.refresh()
            info = tampered.get_targetinfo(APP)
            try:
                tampered.download_target(info)
            except exceptions.LengthOrHashMismatchError as e:
                return f"rejected ({copies} copies flipped): {e}"
            raise AssertionError("python-tuf accepted a tampered image")

        checks.check("python-tuf rejects a tampered image", tampered_image)

        def tampered_targets():
            snapshot_keyid = tamper_targets_body(ws, bad_targets)
            root = json.loads((good / "metadata" / "2.root.json").read_bytes())["signed"]
            if snapshot_keyid not in root["roles"]["snapshot"]["keyids"]:
                raise AssertionError("securesystemslib computes another snapshot key id")
            tampered, _ = client(ws, tmp, args.base_url, "bad-targets")
            try:
                tampered.refresh()
            except exceptions.UnsignedMetadataError as e:
                if "targets" not in str(e):
                    raise AssertionError(f"rejected for another reason: {e}") from e
                return f"rejected: {e}"
            raise AssertionError("python-tuf accepted edited targets metadata")

        checks.check("python-tuf rejects targets edited after signing", tampered_targets)

        def keytool_agrees():
            for name in ("bad-image", "bad-targets"):
                run = subprocess.run([args.keytool, "verify", "--repo", str(args.serve_dir / name)],
                                     capture_output=True, text=True)
                if run.returncode != 1 or "arbitrary_software" not in run.stdout:
                    raise AssertionError(f"keytool verify {name}: exit {run.returncode}\n{run.stdout}")
            return "exit 1, arbitrary_software, on both tampered copies"

        checks.check("keytool verify rejects the same tampered copies", keytool_agrees)

    verdict = "FAIL" if checks.failed else "PASS"
    print(f"{verdict} python-tuf interop: {checks.failed} check(s) failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
