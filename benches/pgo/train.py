#!/usr/bin/env python3
"""The profile-guided build's training traffic (benches/pgo/build.sh).

    train.py TOKEN ROUNDS CONNECTIONS URL_PREFIX [URL_PREFIX ...]

Each URL prefix is a tenant's SCIM base on a running gateway
(https://127.0.0.1:PORT/scim/v2, .../tenants/ID/scim/v2). Every tenant at
once, each over CONNECTIONS keep-alive TLS connections in parallel (so
that the gateway's paths under concurrency, such as the audit journal's
and the webhooks' batches, are the ones measured, not a one-at-a-time
run's), ROUNDS rounds per connection of what IdPs send when they
provision: Users
created, read, searched by userName, patched the way Okta and Entra ID do,
replaced and deleted; Groups created with members, members added and
removed, read without members; discovery; and a share of refused requests
(bad JSON, an unknown attribute, no credentials). Standard library only.
Exits non-zero when the gateway answers otherwise than expected, so that a
broken training run never yields a profile.
"""
import http.client
import json
import ssl
import sys
import threading
import urllib.parse

CT = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Tenant:
    def __init__(self, prefix, token):
        url = urllib.parse.urlsplit(prefix)
        ctx = ssl.create_default_context()
        # Loopback training against the gateway's development certificate.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection(url.hostname, url.port, context=ctx, timeout=30)
        self.base = url.path.rstrip("/")
        self.token = token
        self.name = prefix

    def call(self, method, path, body=None, expect=(200,), auth=True, raw=None):
        headers = {"Accept": CT}
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = CT
        self.conn.request(method, self.base + path, body=data, headers=headers)
        resp = self.conn.getresponse()
        text = resp.read()
        if resp.status not in expect:
            sys.exit(f"train.py: {self.name} {method} {path}: {resp.status} {text[:300]!r}")
        return json.loads(text) if text else None


def user(i, tag):
    name = f"pgo.{tag}.{i}@example.com"
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": name,
        "externalId": f"ext-{tag}-{i}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}", "middleName": "M"},
        "displayName": f"Given{i} Family{i}",
        "nickName": f"nick{i}",
        "title": "Engineer",
        "active": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
        "phoneNumbers": [{"value": f"+1 555 01{i % 100:02d}", "type": "work"}],
        ENTERPRISE: {"employeeNumber": str(1000 + i), "department": "R&D"},
    }


def train(t, rounds, tag, first):
    t.call("GET", "/ServiceProviderConfig")
    t.call("GET", "/ResourceTypes")
    t.call("GET", "/Schemas")
    ids = []
    for i in range(rounds):
        body = user(i, tag)
        created = t.call("POST", "/Users", body, expect=(201,))
        uid = created["id"]
        ids.append(uid)
        t.call("GET", f"/Users/{uid}")
        q = urllib.parse.quote(f'userName eq "{body["userName"]}"')
        t.call("GET", f"/Users?filter={q}")
        # Okta's PATCH: replace without a path; Entra ID's: with paths.
        t.call("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"active": i % 2 == 0, "displayName": f"Renamed {i}"}}]})
        t.call("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "title", "value": "Staff Engineer"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"work{i}@example.net"}]})
        if i % 4 == 0:
            body["displayName"] = f"Replaced {i}"
            t.call("PUT", f"/Users/{uid}", body)
        if i % 5 == 0:
            t.call("GET", "/Users?startIndex=1&count=10&attributes=userName,active")
        if i % 10 == 0:
            t.call("GET", f"/Users/{uid}?excludedAttributes=groups")
            t.call("POST", "/Users", raw=b'{"schemas": [', expect=(400,))
            # One connection per tenant: the failure damper answers 429
            # past 20 failures from one client.
            if first and i % 100 == 0:
                t.call("GET", f"/Users/{uid}", auth=False, expect=(401,))
            # An attribute no schema defines matches nothing: an empty list.
            t.call("GET", "/Users?filter=" + urllib.parse.quote("nosuch eq 1"))
            t.call("POST", "/Users", {"schemas": [USER]}, expect=(400,))
        if i % 25 == 4:
            members = [{"value": m} for m in ids[-20:]]
            g = t.call("POST", "/Groups", {"schemas": [GROUP], "displayName": f"pgo-{tag}-{i}",
                                           "members": members}, expect=(201,))
            gid = g["id"]
            t.call("PATCH", f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "remove", "path": f'members[value eq "{ids[-1]}"]'}]}, expect=(200, 204))
            t.call("PATCH", f"/Groups/{gid}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": ids[-1]}]}]}, expect=(200, 204))
            t.call("GET", f"/Groups/{gid}?excludedAttributes=members")
            t.call("GET", "/Groups?filter=" + urllib.parse.quote(f'displayName eq "pgo-{tag}-{i}"'))
    for uid in ids:
        t.call("DELETE", f"/Users/{uid}", expect=(204,))


def main():
    token, rounds, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    prefixes = sys.argv[4:]
    failures = []

    def run(prefix, tag, first):
        try:
            train(Tenant(prefix, token), rounds, tag, first)
        except SystemExit as e:
            failures.append(str(e))
        except Exception as e:  # a refused connection, a timeout
            failures.append(f"train.py: {prefix}: {e!r}")

    threads = [
        threading.Thread(target=run, args=(prefix, f"t{n}c{c}", c == 0))
        for n, prefix in enumerate(prefixes)
        for c in range(connections)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit("\n".join(failures))
    print(f"train.py: {len(prefixes)} tenants, {connections} connections each, "
          f"{rounds} rounds per connection")


if __name__ == "__main__":
    main()
