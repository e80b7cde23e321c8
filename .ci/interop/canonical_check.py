#!/usr/bin/env python3
"""Canonical JSON interop: keytool's encoder (uptane::canonical) against securesystemslib's
encode_canonical, byte for byte.

Signatures cover these bytes, so every TUF client must agree with us exactly. The cases are the
project corpus (uptane/tests/data/canonical-json.json, produced by securesystemslib) plus a
seeded generated corpus: nested objects and arrays, non-ASCII and astral strings, every control
character, quotes and backslashes, keys that are prefixes of each other ("app", "app v2",
"app!"), extreme integers, duplicate keys, and inputs both sides must refuse (floats).

keytool refuses integers outside [-2**63, 2**64-1] (TUF metadata never needs them) where
securesystemslib encodes them; those are counted apart. Any other difference fails.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from securesystemslib.formats import encode_canonical

PREFIX_KEYS = ["app", "app v2", "app!", "ap", "app\u0000x", "app/x", "app~", "App", "appé", "app\t"]
SPECIAL_CHARS = ['"', "\\", "/", "\b", "\f", "\n", "\r", "\t", "\u0000", "\u001f", "\u007f",
                 "\u0080", "\u00e9", "e\u0301", "\u2028", "\u4e2d", "\U0001f697", "\ufeff"]
EXTREME_INTS = [0, 1, -1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]
BEYOND_64_BIT = [2**64, -(2**63) - 1, 10**30]


def random_string(rng):
    pool = SPECIAL_CHARS + list("abcXYZ019 _-.")
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 8)))


def random_value(rng, depth):
    kind = rng.randrange(9 if depth < 5 else 5)
    if kind == 0:
        return rng.choice(EXTREME_INTS + [rng.randint(-10**6, 10**6)])
    if kind == 1:
        return random_string(rng)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(PREFIX_KEYS)
    if kind == 4:
        return rng.randint(-(2**63), 2**64 - 1)
    if kind in (5, 6):
        keys = rng.sample(PREFIX_KEYS, rng.randint(0, 4)) + [random_string(rng) for _ in range(rng.randint(0, 3))]
        return {k: random_value(rng, depth + 1) for k in keys}
    return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def generated_cases(count, seed):
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        value = {k: random_value(rng, 1) for k in rng.sample(PREFIX_KEYS, rng.randint(1, 6))}
        text = json.dumps(value, ensure_ascii=bool(i % 2), indent=None if i % 3 else 2)
        cases.append((f"generated #{i}", text))
    # Hand-made edge cases the generator may miss.
    cases += [
        ("duplicate keys: last wins", '{"a": 1, "a": 2}'),
        ("float refused", '{"a": 1.5}'),
        ("exponent refused", '{"a": 1e3}'),
        ("top-level string", '"caf\\u00e9 \\ud83d\\ude97"'),
        ("top-level array", "[[], {}, [null]]"),
        ("empty key", '{"": 0, " ": 1}'),
    ]
    cases += [(f"beyond 64-bit {n}", json.dumps({"n": n})) for n in BEYOND_64_BIT]
    return cases


def reference(text):
    """securesystemslib's bytes, or None if it refuses."""
    try:
        return encode_canonical(json.loads(text)).encode("utf-8")
    except Exception:  # noqa: BLE001 - any refusal counts as a refusal
        return None


def beyond_64_bit(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value <= 2**64 - 1
    if isinstance(value, dict):
        return any(beyond_64_bit(v) for v in value.values())
    if isinstance(value, list):
        return any(beyond_64_bit(v) for v in value)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keytool", required=True)
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20240917)
    args = parser.parse_args()

    corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
    failures = []
    for case in corpus:
        ours = encode_canonical(json.loads(case["input"]))
        if ours != case["canonical"]:
            failures.append(f"corpus {case['name']!r}: securesystemslib now gives {ours!r}")
    cases = [(f"corpus {c['name']}", c["input"]) for c in corpus]
    cases += generated_cases(args.count, args.seed)

    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8", delete=False) as f:
        json.dump([text for _, text in cases], f)
        batch = f.name
    try:
        run = subprocess.run([args.keytool, "canonical", "--batch", batch],
                             capture_output=True, check=False)
    finally:
        Path(batch).unlink()
    if run.returncode != 0:
        print(f"FAIL canonical JSON: keytool exited {run.returncode}: {run.stderr.decode()}")
        return 1
    results = json.loads(run.stdout)

    matched = refused = beyond = 0
    for (name, text), result in zip(cases, results, strict=True):
        expected = reference(text)
        got = bytes.fromhex(result["hex"]) if "hex" in result else None
        if expected is not None and got == expected:
            matched += 1
        elif expected is None and got is None:
            refused += 1
        elif got is None and beyond_64_bit(json.loads(text)):
            beyond += 1
        else:
            failures.append(f"{name}: input {text!r}\n  securesystemslib: {expected!r}\n  keytool: "
                            f"{got if got is not None else result.get('error')!r}")

    for failure in failures[:20]:
        print(f"  mismatch: {failure}")
    verdict = "FAIL" if failures else "PASS"
    print(f"{verdict} canonical JSON vs securesystemslib: {matched} of {len(cases)} cases "
          f"byte-identical ({len(corpus)} corpus, {len(cases) - len(corpus)} generated), "
          f"{refused} refused by both, {beyond} integers beyond 64 bits refused by keytool, "
          f"{len(failures)} differences")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
