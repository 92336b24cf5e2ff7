"""A User round trip through scim2-client: discover, create, read, search, PATCH, delete.

Usage: python scim2_client_roundtrip.py BASE_URL [HEADERS_JSON]

Embedded in tests/support/peers.rs (run_scim2_client_roundtrip). Prints one
line per step; exits 0 when every step behaved as RFC 7644 says, 1 otherwise.
"""

import json
import sys
import traceback
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Error
from scim2_models import ListResponse
from scim2_models import PatchOp
from scim2_models import PatchOperation
from scim2_models import SCIMException
from scim2_models import SearchRequest


class StepFailed(Exception):
    pass


def step(message):
    print(f"step: {message}", flush=True)


def expect(condition, message):
    if not condition:
        raise StepFailed(message)


def round_trip(client):
    step("discover (ServiceProviderConfig, ResourceTypes, Schemas)")
    client.discover()
    User = client.get_resource_model("User")
    expect(User is not None, "the server publishes no User resource type")

    user_name = f"roundtrip-{uuid.uuid4().hex[:12]}"
    step(f"create User {user_name} (RFC 7644 §3.3)")
    created = client.create(User(user_name=user_name, display_name="Round Trip"))
    expect(isinstance(created, User), f"create returned {created!r}")
    expect(created.id, "the created User has no id")
    expect(created.user_name == user_name, f"created userName is {created.user_name!r}")
    user_id = created.id

    step(f"read User {user_id} (RFC 7644 §3.4.1)")
    read = client.query(User, user_id)
    expect(isinstance(read, User), f"read returned {read!r}")
    expect(read.id == user_id, f"read id is {read.id!r}")
    expect(read.user_name == user_name, f"read userName is {read.user_name!r}")

    step(f'search userName eq "{user_name}" (RFC 7644 §3.4.2.2)')
    found = client.query(User, query_parameters=SearchRequest(filter=f'userName eq "{user_name}"'))
    expect(isinstance(found, ListResponse), f"search returned {found!r}")
    expect(found.total_results == 1, f"search totalResults is {found.total_results}")
    ids = [resource.id for resource in found.resources or []]
    expect(ids == [user_id], f"search found ids {ids}")

    step("PATCH replace displayName (RFC 7644 §3.5.2.3)")
    patch = PatchOp[User](operations=[PatchOperation(op="replace", path="displayName", value="Patched")])
    patched = client.modify(User, user_id, patch)
    # 200 with the resource, or 204 with nothing (RFC 7644 §3.5.2).
    expect(patched is None or isinstance(patched, User), f"PATCH returned {patched!r}")
    if patched is not None:
        expect(patched.display_name == "Patched", f"PATCH answered displayName {patched.display_name!r}")
    reread = client.query(User, user_id)
    expect(reread.display_name == "Patched", f"after PATCH displayName is {reread.display_name!r}")

    step(f"delete User {user_id} (RFC 7644 §3.6)")
    deleted = client.delete(User, user_id)
    expect(deleted is None, f"delete returned {deleted!r}")

    step("read after delete answers 404")
    try:
        gone = client.query(User, user_id)
    except SCIMException as exc:
        expect(exc.status == 404, f"read after delete raised {type(exc).__name__} with status {exc.status}")
    else:
        status = getattr(gone, "status", None) if isinstance(gone, Error) else None
        expect(status in (404, "404"), f"read after delete returned {gone!r}")


def main():
    base_url = sys.argv[1]
    headers = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    # trust_env=False: a proxy from the environment must not see test traffic.
    http = httpx2.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False)
    try:
        round_trip(SyncSCIMClient(http))
    except StepFailed as exc:
        print(f"FAIL: {exc}", flush=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - any client error fails the round trip
        print(f"FAIL: {type(exc).__name__}: {exc}", flush=True)
        cause = exc.__cause__
        while cause is not None:
            print(f"  caused by {type(cause).__name__}: {cause}", flush=True)
            cause = cause.__cause__
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"  at {where.filename}:{where.lineno}", flush=True)
        sys.exit(1)
    print("ok: round trip complete", flush=True)


main()
