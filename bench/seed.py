#!/usr/bin/env python3
"""Seed BenchItem objects through /batch (50 per request) and print their objectIds, one a line.

usage: seed.py BASE_URL APP_ID MASTER_KEY COUNT > ids.txt
Same objects as the anchor's bench.sh: {"name":"seed-N","score":0..999,"tags":["a","b"]}.
"""
import json
import random
import sys
import urllib.parse
import urllib.request


def main() -> int:
    base, app, master, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    path = urllib.parse.urlparse(base).path  # e.g. /parse; batch sub-request paths include it
    done = 0
    out = sys.stdout
    while done < n:
        k = min(50, n - done)
        reqs = [
            {
                "method": "POST",
                "path": f"{path}/classes/BenchItem",
                "body": {"name": f"seed-{done + i}", "score": random.randint(0, 999), "tags": ["a", "b"]},
            }
            for i in range(k)
        ]
        req = urllib.request.Request(
            base + "/batch",
            data=json.dumps({"requests": reqs}).encode(),
            method="POST",
            headers={
                "X-Parse-Application-Id": app,
                "X-Parse-Master-Key": master,
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req) as resp:
            results = json.load(resp)
        for r in results:
            if "success" not in r:
                print(f"seed.py: batch item failed: {json.dumps(r)}", file=sys.stderr)
                return 1
            out.write(r["success"]["objectId"] + "\n")
        done += k
    return 0


if __name__ == "__main__":
    sys.exit(main())
