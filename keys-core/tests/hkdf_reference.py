#!/usr/bin/env python3
"""Independent reference for the Blindcast key-derivation spec (RFC 5869, SHA-256).

Written against the standard library only (hmac, hashlib), never the Rust crate, so the
published test vectors cannot drift with the code.

    python3 hkdf_reference.py SPEC.md            # check every vector row in SPEC.md
    python3 hkdf_reference.py derive MK SALT ID [EPOCH]   # print one key as hex
"""
import hashlib
import hmac
import re
import sys


def hkdf(master_key: bytes, salt: bytes, info: bytes, length: int = 16) -> bytes:
    prk = hmac.new(salt, master_key, hashlib.sha256).digest()  # HKDF-Extract
    okm, block, counter = b"", b"", 1
    while len(okm) < length:  # HKDF-Expand
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def info_for(content_id: str, epoch):
    if epoch is None:
        return b"blindcast/v1/content/" + content_id.encode("ascii")
    return b"blindcast/v1/epoch/" + content_id.encode("ascii") + b"/" + str(epoch).encode("ascii")


def derive(mk_hex, salt_hex, content_id, epoch=None):
    return hkdf(bytes.fromhex(mk_hex), bytes.fromhex(salt_hex), info_for(content_id, epoch)).hex()


ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([^`]+)`\s*\|\s*(`\d+`|-)\s*\|\s*`([0-9a-f]{32})`\s*\|\s*$")


# A vector row: a table row whose first cell is a number. Every such row must parse.
CANDIDATE = re.compile(r"^\|\s*\d+\s*\|")


def check_spec(path):
    rows = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not CANDIDATE.match(line.strip()):
                continue
            m = ROW.match(line.strip())
            if not m:
                print(f"{path}:{lineno}: vector row the reference cannot parse: {line.strip()}")
                return 1
            n, mk, salt, cid, epoch, expected = m.groups()
            epoch = None if epoch == "-" else int(epoch.strip("`"))
            got = derive(mk, salt, cid, epoch)
            if got != expected:
                print(f"vector {n}: expected {expected}, reference computes {got}")
                return 1
            rows += 1
    if rows < 8:
        print(f"only {rows} vector rows found in {path}")
        return 1
    print(f"{rows} vectors match the independent reference")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "derive":
        print(derive(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else None))
    elif len(sys.argv) == 2:
        sys.exit(check_spec(sys.argv[1]))
    else:
        print(__doc__)
        sys.exit(2)
