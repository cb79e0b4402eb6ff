#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/TARGET/NAME) from the attack
lists of keys-axum/tests/security_inputs.rs (its paths in common/hostile_inputs.rs) and
security_tokens.rs. Run it again after changing those lists; scripts/fuzz reads these
directories besides its growing corpus."""
import base64, hashlib, hmac, json, os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"fuzzing secret of at least thirty-two bytes"  # fuzz_targets/common.rs
WRONG = b"attacker secret of at least thirty-two bytes!"

def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def jwt(header, claims, secret, alg="sha256"):
    signing = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret, signing.encode(), getattr(hashlib, alg)).digest() if secret is not None else b""
    return signing + "." + b64(sig)

def write(target, items):
    d = os.path.join(HERE, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, data in enumerate(items):
        with open(os.path.join(d, f"seed-{i:03}"), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

# common/hostile_inputs.rs bad_paths()
ids = ["..", ".", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2E%2E%2F", "%2e", ".hidden", "a%2Fb", "%2F",
       "%5C", "a%5Cb", "..%5C..%5C", "%00", "a%00b", "%0d%0aX-Injected:%201", "%C3%A9", "m%C3%A9",
       "%F0%9F%8E%AC", "%FF", "%C0%AE%C0%AE", "%E2%80%AE", "a%20b", "%20", "a%09b", "movie-1%3B",
       "movie-1%27%20OR%201=1", "%25", "%25%32%65", "a" * 129]
epochs = ["-1", "01", "00", "+1", "1e3", "0x10", "1.0", "18446744073709551616", "%201", "1%20",
          "%2e%2e", "..", "%00", "1%00", "%D9%A1", "%EF%BC%91", "", "NaN", "%FF"]
router = []
for flags in ["tl", "t", "l", ""]:
    router += [f"{flags}\nGET /keys/movie-1\n\n", f"{flags}\nGET /keys/movie-2\n\n",
               f"{flags}\nHEAD /keys/movie-1/7\n\n", f"{flags}\nGET /keys/movie%2D1\n\n",
               f"{flags}\nGET /keys/leases\n\n", f"{flags}\nGET /keys/movie-1?lease=x\n\n"]
router += [f"tl\nGET /keys/{i}\n\n" for i in ids]
router += [f"tl\nGET /keys/movie-1/{e}\n\n" for e in epochs]
router += [
    "tl\nGET /keys/movie-1/1/2\n\n",
    "tld\nGET /keys/movie-1\n\n",
    "td\nPOST /keys/leases\ncontent-type: application/json\n\n{\"contentId\":\"movie-2\"}",
    "t\nPOST /keys/leases\ncontent-type: application/json\n\n{\"contentId\":\"movie-2\"}",
    "t\nPOST /keys/leases/renew\ncontent-type: application/json\n\n{\"leaseId\":\"x\"}",
    "t\nDELETE /keys/leases/x\n\n",
    "\nOPTIONS /keys/movie-1\norigin: https://app.example.org\naccess-control-request-method: GET\naccess-control-request-headers: authorization, x-blindcast-lease\n\n",
    "tl\nGET /keys/movie-1\norigin: https://evil.example\n\n",
    "\nGET /metrics\n\n", "\nGET /healthz\n\n", "d\nGET /readyz\n\n",
    "tl\nPUT /keys/movie-1\n\n", "tl\nBREW /keys/movie-1\n\n",
    "t\nPOST /keys/leases\ncontent-type: application/json\ncontent-length: 5\n\n{\"contentId\":\"movie-2\"}",
    "t\nPOST /keys/leases\ncontent-type: application/json\n\n" + "[" * 2000,
]
write("router", router)

# security_tokens.rs forged(): the kinds of forgery, signed with a key the server does not
# trust, or with its own secret but claims it must refuse.
good = {"sub": "attacker", "exp": 4102444800}
forged = [
    jwt({"alg": "HS256", "typ": "JWT"}, good, WRONG),
    jwt({"alg": "none", "typ": "JWT"}, good, None),
    jwt({"alg": "None"}, good, None),
    jwt({"alg": "HS512"}, good, WRONG, "sha512"),
    jwt({"alg": "HS384"}, good, SECRET, "sha384"),
    jwt({"alg": "HS256", "kid": "../../dev/null"}, good, b""),
    jwt({"alg": "HS256", "jku": "http://127.0.0.1:1/jwks.json"}, good, WRONG),
    jwt({"alg": "RS256"}, good, SECRET),
    jwt({"alg": "HS256"}, {"sub": "fuzzer", "exp": 1}, SECRET),                       # expired
    jwt({"alg": "HS256"}, {"sub": "fuzzer", "exp": 4102444800, "nbf": 4102444000}, SECRET),  # not yet
    jwt({"alg": "HS256"}, {"exp": 4102444800}, SECRET),                               # no sub
    jwt({"alg": "HS256"}, {"sub": "fuzzer"}, SECRET),                                 # no exp
    jwt({"alg": "HS256"}, {"sub": "", "exp": 4102444800}, SECRET),
    jwt({"alg": "HS256"}, {"sub": "a\u0000b", "exp": 4102444800}, SECRET),
    jwt({"alg": "HS256"}, {"sub": 7, "exp": 4102444800}, SECRET),
    jwt({"alg": "HS256"}, {"sub": "fuzzer", "exp": "4102444800"}, SECRET),
    jwt({"alg": "HS256"}, {"sub": "fuzzer", "exp": 4102444800}, SECRET)[:-1],        # truncated sig
    "eyJhbGciOiJIUzI1NiJ9", "a.b.c", "..", ".", "Bearer", "x" * 9000,
]
token = []
for t in forged:
    token += [f"B{t}", f"Qtoken={t}", f"Ctheme=dark; bc={t}", f"V{t}"]
token += ["ABasic dXNlcjpwYXNz", "Abearer", "ABearer ", "A Bearer x", "Qtoken=", "Qtoken=%00",
          "Cbc=", "Cbc=\"\"", "ABasic x\nQtoken=a.b.c", "Qtoken=a&token=b", "Ctheme=1\nCbc=a.b.c"]
write("token", token)

# security_inputs.rs lease bodies
bodies = ["", "contentId=movie-2", '{"contentId":"movie-2"', "{}", '{"contentId":null}',
          '{"contentId":7}', '["movie-2"]', '{"contentId":"../movie-2"}',
          '{"contentId":"movie\\u0000-2"}', '{"contentId":"mövie"}', '{"contentId":"' + "a" * 129 + '"}',
          '{"contentId":"movie-2","contentId":"movie-3"}', '\ufeff{"contentId":"movie-2"}',
          "[" * 2000, '{"contentId":"movie-2"}', ' {"contentId" : "movie-2", "x": [1]} ',
          '{"content\\u0049d":"movie-2"}', '{"contentId":"movie-2","pad":"' + "x" * 1100 + '"}']
lease = [f"c\n{b}" for b in bodies]
lease += ["ctext/plain\n{\"contentId\":\"movie-2\"}", "capplication/json; charset=utf-8\n{\"contentId\":\"movie-2\"}",
          "cAPPLICATION/JSON\n{\"contentId\":\"movie-2\"}", "capplication/jsonx\n{\"contentId\":\"movie-2\"}"]
lease += ["r\n{\"leaseId\":\"$LEASE\"}", "r\n{\"leaseId\":\"$LEASEx\"}", "r\n{\"leaseId\":\" $LEASE \"}",
          "r\n{\"leaseId\":\"$LEASE\",\"leaseId\":\"x\"}", "r\n[\"$LEASE\"]", "r\n{}", "r\n{\"leaseId\":null}",
          "rtext/plain\n{\"leaseId\":\"$LEASE\"}"]
write("lease_json", lease)

write("content_id", ids + epochs + ["movie-1", "a.b_c-d", "0", "18446744073709551615"])

# cpix: the SPEKE request fixtures of keys-axum/tests/fixtures/speke, and entity attacks.
speke = os.path.join(HERE, "..", "..", "keys-axum", "tests", "fixtures", "speke")
cpix = [open(os.path.join(speke, n), "rb").read() for n in sorted(os.listdir(speke))]
cpix += ['<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><cpix:CPIX id="&b;" xmlns:cpix="urn:dashif:org:cpix"/>',
         '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><cpix:CPIX id="&xxe;" xmlns:cpix="urn:dashif:org:cpix"/>']
write("cpix", cpix)
