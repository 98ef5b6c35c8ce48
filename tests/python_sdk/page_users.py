#!/usr/bin/env python3
"""Pages through every user of the fake Okta tenant with the official Okta Python SDK.

Proves that a real Okta client consumes the fake: `Link` headers (self and next as two
separate fields), opaque `after` cursors, `search=status pr`, JSON shapes (the SDK parses
every user into its `User` model).

    cargo run --release --example fake-okta -- --users 5000 --groups 100 --port 18080 --token T
    python3 tests/python_sdk/page_users.py --url http://127.0.0.1:18080 --token T --expect 5000

Exit 0 when every user was seen exactly once (and, with --expect, as many as expected).
"""

import argparse
import asyncio
import os
import sys
import time
from collections import Counter

from okta.client import Client as OktaClient
from okta.pagination import PaginationHelper


def tolerate_unknown_user_statuses() -> None:
    """The SDK's `UserStatus` enum only knows the 8 documented statuses, and pydantic then
    rejects a whole page holding a user in an undocumented one (real orgs have `ACTIVATING`;
    the fake serves it on purpose). Teach the enum to accept unknown values."""
    from okta.models.user import User
    from okta.models.user_status import UserStatus

    def _missing_(cls, value):
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    UserStatus._missing_ = classmethod(_missing_)
    User.model_rebuild(force=True)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:18080")
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--expect", type=int, help="number of users the org has")
    ap.add_argument(
        "--strict-sdk",
        action="store_true",
        help="do not patch the SDK's UserStatus enum (it then fails on ACTIVATING users)",
    )
    args = ap.parse_args()
    if not args.strict_sdk:
        tolerate_unknown_user_statuses()

    # The SDK refuses a non-https orgUrl unless `testing.testingDisableHttpsCheck` is set
    # (okta/config/config_validator.py). `Client(config)` nests the dict it is given under
    # `client`, so that top-level `testing` section can only come from okta.yaml or from this
    # environment variable (okta/config/config_setter.py, _apply_env_config).
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    config = {
        "orgUrl": args.url,
        "token": args.token,
        "rateLimit": {"maxRetries": 2},
    }
    started = time.monotonic()
    seen = Counter()
    pages = 0
    statuses = Counter()
    async with OktaClient(config) as client:
        users, resp, err = await client.list_users(search="status pr", limit=args.limit)
        while True:
            if err:
                print(f"error on page {pages + 1}: {err}", file=sys.stderr)
                return 1
            pages += 1
            for user in users:
                seen[user.id] += 1
                statuses[str(user.status.value if hasattr(user.status, "value") else user.status)] += 1
            # okta 3.x: the third value is a pydantic ApiResponse; paging is by the `after`
            # cursor that okta.pagination.PaginationHelper extracts from the Link header(s).
            cursor = PaginationHelper.extract_next_cursor(resp.headers)
            if not cursor:
                break
            users, resp, err = await client.list_users(
                search="status pr", limit=args.limit, after=cursor
            )
    elapsed = time.monotonic() - started
    dupes = {uid: n for uid, n in seen.items() if n > 1}
    print(
        f"okta SDK: {len(seen)} distinct users in {pages} pages, {sum(seen.values())} items, "
        f"{len(dupes)} duplicated, {elapsed:.2f}s; statuses {dict(sorted(statuses.items()))}"
    )
    if dupes:
        print(f"duplicates: {list(dupes)[:5]}", file=sys.stderr)
        return 1
    if args.expect is not None and len(seen) != args.expect:
        print(f"expected {args.expect} users, saw {len(seen)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
