#!/usr/bin/env python3
"""Regenerates dpkg_versions.json: every pair of the versions below, ordered by the
system's own `dpkg --compare-versions` (the oracle the unit test checks against)."""
import itertools, json, subprocess, os

VERSIONS = [
    "0", "1", "1.0", "1.0-1", "1.0-2", "1.0-10", "1.0~rc1", "1.0~rc1-1", "1.0~~", "1.0~",
    "1.0+b1", "1.0-1+b1", "1.0-1~bpo12+1", "1:0.9", "2:0.1", "1:1.0", "0:1.0", "1.0a", "1.0.1",
    "1.00", "1.01", "1.2.3-4+deb12u1", "1.2.3-4+deb12u2", "1.2.3-4", "1.2.3-4.1", "1.2.3-5",
    "2.36-9+deb12u4", "2.36-9+deb12u10", "3.0.11-1~deb12u2", "3.0.11-1", "3.0.13-1~deb12u1",
    "7.88.1-10+deb12u5", "7.88.1-10+deb12u12", "1.0-a", "1.0.0", "10", "9", "1.0-0",
    "1.0+dfsg", "1.0+dfsg-1", "1.0.dfsg", "252.22-1~deb12u1", "252.30-1~deb12u2", "1.0-1ubuntu1",
]

def cmp(a, b):
    for op, r in (("lt", -1), ("eq", 0), ("gt", 1)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b]).returncode == 0:
            return r
    raise SystemExit(f"dpkg cannot order {a} {b}")

cases = [[a, b, cmp(a, b)] for a, b in itertools.combinations(VERSIONS, 2)]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dpkg_versions.json")
with open(out, "w") as f:
    json.dump({"generator": "dpkg --compare-versions (dpkg 1.21, Debian 12)", "cases": cases}, f, indent=0)
    f.write("\n")
