#!/usr/bin/env python3
"""CPU shares during one measured run of bench/run.sh, as JSON (percent of one core).

usage: cpu_share.py SERVER MACHINE0 MACHINE1 SERVER0 SERVER1 WRK0 WRK1 PG0 PG1 T0 T1
MACHINE*: "busy total" jiffies from /proc/stat; SERVER*: the server's utime+stime jiffies,
summed over its processes (both nodes for basalt_x2); WRK*: CPU seconds of the shell's
waited-for children (every wrk); PG*: "pid:jiffies,..." of the PostgreSQL processes; T*:
wall-clock seconds. "other" is machine busy time not spent in the server, wrk or PostgreSQL
(for the servers named in BENCH_PG_SERVERS, default "parse": those whose database it is):
whatever else ran.
"""
import json
import os
import re
import sys


def ticks(snapshot):
    return dict(x.split(":", 1) for x in snapshot.split(",") if ":" in x)


def main():
    server_name, a = sys.argv[1], sys.argv[2:]
    hz = os.sysconf("SC_CLK_TCK")
    (b0, tot0), (b1, tot1) = (map(float, x.split()) for x in a[0:2])
    s0, s1, c0, c1 = map(float, a[2:6])
    before, after = ticks(a[6]), ticks(a[7])
    t0, t1 = map(float, a[8:10])
    wall = max(t1 - t0, 1e-6)
    # PostgreSQL processes that exited during the run are left out; new ones count from zero
    pg_ticks = sum(max(float(t) - float(before.get(pid, 0)), 0) for pid, t in after.items())
    cores = os.cpu_count() or 1
    busy = round((b1 - b0) / max(tot1 - tot0, 1) * 100 * cores)
    server_pct = round((s1 - s0) / hz / wall * 100)
    wrk = round((c1 - c0) / wall * 100)
    pg = round(pg_ticks / hz / wall * 100)
    # A repeated round (NODE_ROUNDS) is the same server as its first: basalt_x2_r3 is basalt_x2.
    server = re.sub(r"_r\d+$", "", server_name)
    uses_pg = server in os.environ.get("BENCH_PG_SERVERS", "parse").split()
    other = busy - server_pct - wrk - (pg if uses_pg else 0)
    print(json.dumps({"machine_busy_pct": busy, "server_cpu_pct": server_pct, "wrk_cpu_pct": wrk,
                      "postgres_cpu_pct": pg, "uses_postgres": uses_pg, "other_pct": other}))


if __name__ == "__main__":
    main()
