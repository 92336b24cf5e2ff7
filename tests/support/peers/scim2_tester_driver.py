"""Runs scim2-tester against a SCIM server and prints the results as JSON.

Usage: python scim2_tester_driver.py BASE_URL [HEADERS_JSON]

Embedded in tests/support/peers.rs (run_scim2_tester). Prints exactly one JSON
document on stdout, {"checks": [...]} or {"error": "..."} when scim2-tester
itself raised, and exits 0 either way; any other exit means the harness broke.
"""

import json
import sys
import traceback

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def text(value):
    return None if value is None else str(value)


def summary(description):
    """The first paragraph of a check's docstring, on one line."""
    if not description:
        return None
    return " ".join(str(description).strip().split("\n\n")[0].split())


def main():
    base_url = sys.argv[1]
    headers = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    # trust_env=False: a proxy from the environment must not see test traffic.
    http = httpx2.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False)
    client = SyncSCIMClient(http)
    try:
        results = check_server(client)
    except Exception as exc:  # noqa: BLE001 - reported to the Rust side
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}))
        return
    checks = [
        {
            "status": result.status.name,
            "title": text(result.title),
            "description": summary(result.description),
            "reason": text(result.reason),
            "resource_type": text(result.resource_type),
            "tags": sorted(result.tags or []),
        }
        for result in results
    ]
    print(json.dumps({"checks": checks}))


main()
