#!/usr/bin/env python3
"""Independent reference for the Blindcast key-derivation spec (RFC 5869, SHA-256).

Written against the standard library only (hmac, hashlib), never the Rust crate, so the
published test vectors cannot drift with the code.

    python3 hkdf_reference.py SPEC.md            # check every vector row in SPEC.md
    python3 hkdf_reference.py derive MK SALT ID [EPOCH]   # print one key (version 1) as hex
    python3 hkdf_reference.py derive --kv N MK SALT ID [EPOCH]   # the same under key version N
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


def info_for(content_id: str, epoch, version: int = 1):
    if not 1 <= version <= 65535:
        raise ValueError(f"key version {version} is outside 1..65535")
    # Version 1 keeps the unversioned strings; version N >= 2 inserts "kv/N/".
    prefix = b"blindcast/v1/" if version == 1 else b"blindcast/v1/kv/" + str(version).encode("ascii") + b"/"
    if epoch is None:
        return prefix + b"content/" + content_id.encode("ascii")
    return prefix + b"epoch/" + content_id.encode("ascii") + b"/" + str(epoch).encode("ascii")


def derive(mk_hex, salt_hex, content_id, epoch=None, version=1):
    return hkdf(bytes.fromhex(mk_hex), bytes.fromhex(salt_hex), info_for(content_id, epoch, version)).hex()


# Version-1 table: | # | MASTER_KEY | SALT | contentId | epoch | key |
ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([^`]+)`\s*\|\s*(`\d+`|-)\s*\|\s*`([0-9a-f]{32})`\s*\|\s*$")
# Key-versions table: | # | kv | MASTER_KEY | SALT | contentId | epoch | key |
ROW_KV = re.compile(r"^\|\s*(\d+)\s*\|\s*`([1-9]\d*)`\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([0-9a-f]+)`\s*\|\s*`([^`]+)`\s*\|\s*(`\d+`|-)\s*\|\s*`([0-9a-f]{32})`\s*\|\s*$")


# A vector row: a table row whose first cell is a number. Every such row must parse.
CANDIDATE = re.compile(r"^\|\s*\d+\s*\|")


def check_spec(path):
    rows = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not CANDIDATE.match(line.strip()):
                continue
            m = ROW.match(line.strip())
            if m:
                n, mk, salt, cid, epoch, expected = m.groups()
                version = 1
            else:
                m = ROW_KV.match(line.strip())
                if not m:
                    print(f"{path}:{lineno}: vector row the reference cannot parse: {line.strip()}")
                    return 1
                n, version, mk, salt, cid, epoch, expected = m.groups()
                version = int(version)
            epoch = None if epoch == "-" else int(epoch.strip("`"))
            got = derive(mk, salt, cid, epoch, version)
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
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == "derive":
        version = 1
        if args[1] == "--kv":
            version, args = int(args[2]), args[2:]
        if len(args) in (4, 5):
            print(derive(args[1], args[2], args[3], int(args[4]) if len(args) == 5 else None, version))
        else:
            print(__doc__)
            sys.exit(2)
    elif len(sys.argv) == 2:
        sys.exit(check_spec(sys.argv[1]))
    else:
        print(__doc__)
        sys.exit(2)
