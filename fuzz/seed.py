#!/usr/bin/env python3
"""Seeds the fuzz corpora (fuzz/corpus/<target>/) from the project's test
fixtures and the string literals of its unit tests. Run once, then minimize
with `fuzz/run.sh --cmin`; see docs/testing.md. Files are named by the
SHA-1 of their content, as libFuzzer names them, so re-running adds nothing
twice."""
import base64, glob, hashlib, json, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def rust_strings(paths):
    """The string literals (plain and raw) of Rust files, unescaped."""
    out = []
    for pattern in paths:
        for p in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            text = open(p, encoding="utf-8").read()
            for m in re.finditer(r'r(#+)"(.*?)"\1', text, re.S):
                out.append(m.group(2))
            for m in re.finditer(r'(?<![r#\w])"((?:[^"\\\n]|\\.)*)"', text):
                s = m.group(1)
                try:
                    s = s.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
                except Exception:
                    continue
                out.append(s)
    return [s for s in dict.fromkeys(out) if s]


def json_docs():
    docs = []
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/**/*.json"), recursive=True)):
        try:
            docs.append(json.load(open(p)))
        except Exception:
            pass
    return docs


def bodies(docs):
    """The request bodies of IdP fixtures, and the other documents whole."""
    out = []
    for d in docs:
        if isinstance(d, dict) and "body" in d and "method" in d:
            if d["body"] is not None:
                out.append(d["body"])
        else:
            out.append(d)
    return out


def main():
    docs = json_docs()
    all_bodies = bodies(docs)
    patches = [b for b in all_bodies if isinstance(b, dict) and "Operations" in b
               and "PatchOp" in json.dumps(b.get("schemas"))]
    resources = [b for b in all_bodies if b not in patches]
    user = json.loads(read("tests/fixtures/user_full.json"))

    filter_src = ["src/scim/filter/tests.rs", "src/scim/query_tests.rs", "src/mapping/tests/filter.rs",
                  "src/scim11/query_tests.rs", "tests/it/mapped_filter.rs"]
    filters = [s for s in rust_strings(filter_src)
               if re.search(r"\b(eq|ne|co|sw|ew|gt|lt|ge|le|pr)\b", s) and len(s) < 300]
    for f in filters:
        put("filter", f)
    paths = [s for s in rust_strings(["src/scim/path.rs", "src/scim/patch/tests.rs",
                                      "src/scim/patch/check_tests.rs", "src/scim/projection_tests.rs"])
             if len(s) < 120 and "\n" not in s]
    for p in paths:
        put("path", p)
    for p in patches:
        put("patch", b"\x00" + json.dumps(p).encode())
        put("patch", b"\x01" + json.dumps(p).encode())
    for s in rust_strings(["src/scim/patch/tests.rs", "src/scim/patch/check_tests.rs"]):
        if "Operations" in s:
            put("patch", b"\x00" + s.encode())

    for d in docs:
        put("json_scan", json.dumps(d))
        put("json_scan", json.dumps(d, indent=2))
    for s in rust_strings(["src/scim/json_scan_tests.rs"]):
        put("json_scan", s)

    for b in resources:
        if isinstance(b, dict):
            put("validate", b"\x00" + json.dumps(b).encode())
            put("validate", b"\x01" + json.dumps(b).encode())
    for s in rust_strings(["src/scim/validate_raw_tests.rs", "src/scim/validate_tests.rs"]):
        if s.lstrip().startswith("{"):
            put("validate", b"\x00" + s.encode())

    bulk = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "qwerty",
                 "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alice"}},
                {"method": "POST", "path": "/Groups", "bulkId": "ytrewq",
                 "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:qwerty"}]}},
                {"method": "PUT", "path": "/Users/bulkId:qwerty", "version": "W/\"1\"", "data": {"userName": "A"}},
                {"method": "PATCH", "path": "/Groups/bulkId:ytrewq", "data": patches[0] if patches else {}},
                {"method": "DELETE", "path": "/Users/b7c14771-226c-4d05-8860-134711653041"}]}
    put("bulk", b"\x0f" + json.dumps(bulk).encode())
    cycle = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"members": [{"value": "bulkId:a"}]}}]}
    put("bulk", b"\x05" + json.dumps(cycle).encode())
    for s in rust_strings(["src/scim/bulk_tests.rs"]):
        if "Operations" in s:
            put("bulk", b"\x0f" + s.encode())

    for f in filters:
        put("scim11", b"\x00" + f.encode())
    for q in ["filter=userName%20eq%20%22bjensen%22&count=10&startIndex=3",
              "filter=emails%5Btype%20eq%20%22work%22%5D&sortBy=name.familyName&sortOrder=descending",
              "attributes=userName,emails.value&excludedAttributes=groups",
              "filter=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value%20pr"]:
        put("scim11", b"\x01" + q.encode())
    for p in patches:
        put("scim11", b"\x02" + json.dumps(p).encode())
        put("scim11", b"\x06" + json.dumps(p).encode())
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/scim11/*.json"))):
        put("scim11", b"\x03" + read(p))
        put("scim11", b"\x27" + read(p))

    for table in range(5):
        put("mapping", bytes([table | 0 << 3]) + json.dumps(user).encode())
        put("mapping", bytes([table | 4 << 3]) + json.dumps(user).encode())
        for f in filters[:20]:
            put("mapping", bytes([table | 1 << 3]) + f.encode())
        for p in patches[:10]:
            put("mapping", bytes([table | 2 << 3]) + json.dumps(p).encode())
        put("mapping", bytes([table | 3 << 3]) + json.dumps(bulk).encode())
    for p in sorted(glob.glob(os.path.join(ROOT, "config/mappings/*.toml"))):
        put("mapping", bytes([6 << 3]) + read(p))

    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    header = b'{"alg":"EdDSA","kid":"k1","typ":"JWT"}'
    payload = b'{"iss":"https://issuer.example/","aud":"api://scim-gateway","exp":1767229200,"sub":"okta","scope":"scim:read scim:write"}'
    put("jwt", b"\x01" + header + b"\x00" + payload)
    put("jwt", b"\x01" + b'{"alg":"EdDSA"}' + b"\x00" + payload.replace(b'"aud":"api://scim-gateway"', b'"aud":["x","api://scim-gateway"]'))
    put("jwt", b"\x00" + b64(header) + b"." + b64(payload) + b"." + b64(b"\x00" * 64))
    put("jwt", b"\x00" + b64(b'{"alg":"none"}') + b"." + b64(payload) + b".")
    put("jwt", b"\x02" + b'{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"' + b64(b"\x01" * 32) + b'"},'
        b'{"kty":"EC","crv":"P-256","x":"' + b64(b"\x02" * 32) + b'","y":"' + b64(b"\x03" * 32) + b'","use":"sig","alg":"ES256"},'
        b'{"kty":"RSA","n":"' + b64(b"\xc1" * 256) + b'","e":"AQAB","key_ops":["verify"]}]}')

    h1 = [b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nContent-Length: 13\r\n\r\n{\"id\":\"abc\"}\n",
          b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
          b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
          b"HTTP/1.0 200 OK\r\n\r\nuntil close",
          b"HTTP/1.1 304 Not Modified\r\nETag: W/\"1\"\r\n\r\n",
          b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
          b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc",
          b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n0\r\n\r\n"]
    for i, r in enumerate(h1):
        put("h1", bytes([i % 8]) + r)

    h1_server = [b"GET /scim/v2/Users?filter=userName%20eq%20%22a%22 HTTP/1.1\r\nHost: a.test\r\nAuthorization: Bearer x\r\n\r\n",
                 b"POST /scim/v2/Users HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}GET /b HTTP/1.1\r\n\r\n",
                 b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: t\r\n\r\nGET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                 b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\nabc\r\n0\r\n\r\n",
                 b"PUT /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
                 b"OPTIONS * HTTP/1.1\r\n\r\nGET http://b.test/x HTTP/1.1\r\nHost: a\r\n\r\n",
                 b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"]
    for i, r in enumerate(h1_server):
        put("h1_server", bytes([i * 5 % 32]) + r)

    for p in ["config/gateway.toml"] + sorted(glob.glob(os.path.join(ROOT, "config/examples/*.toml"))):
        text = read(p) if not os.path.isabs(p) else open(p, "rb").read()
        # Paths confined to the run's directory (the target skips `..`).
        text = re.sub(rb'"(\.\./)+([^"]*)"', lambda m: b'"' + m.group(2).replace(b"/", b"-") + b'"', text)
        put("config", text)
    for s in rust_strings(["src/config/compile_tests.rs", "tests/support/gateway.rs"]):
        if "[" in s and "=" in s and "\n" in s:
            put("config", re.sub(r'"(\.\./)+', '"', s))


if __name__ == "__main__":
    sys.exit(main())
