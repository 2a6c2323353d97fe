#!/usr/bin/env python3
"""Turn the raw wrk outputs of bench/run.sh into a markdown table (stdout) and a JSON file.

usage: report.py RAW_DIR OUT_JSON      (from run.sh)
       report.py --render RESULTS_JSON  (print the tables of an earlier run again)
RAW_DIR holds SERVER__WORKLOAD.txt files (SERVER: parse, basalt, basalt_x2, ceiling), each one
wrk run with --latency (basalt_x2: one per node, run at once, each after a "=== wrk N URL" line),
with .cpu (cpu_share.py) and .tries next to them, and SERVER__WORKLOAD.skip files giving why a
workload was not measured. Run parameters come from the environment (DURATION WARMUP CONNS
THREADS SEED WORKLOADS COMMIT BUILD NOISY_PCT LOAD_BEFORE LOAD_AFTER BASALT_STORE NODES).
"""
import datetime
import json
import os
import platform
import re
import statistics
import sys

ORDER = ["create", "get", "query", "update", "count", "me"]
LABELS = {"basalt_x2": "basalt x2 nodes"}  # server names as the tables show them
# The scale-out goal: two nodes on the 2-core machine lose at most this share of one node's req/s.
MAX_LOSS_PCT = 10
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return round(float(m.group(1)) * UNITS[m.group(2)], 3) if m else None


def parse_wrk(text):
    row = {"rps": None, "p50_ms": None, "p90_ms": None, "p99_ms": None, "requests": None,
           "non_2xx": 0, "socket_errors": None}
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            row["rps"] = round(float(parts[1]), 1)
        elif len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            row[f"p{parts[0][:-1]}_ms"] = ms(parts[1])
        elif "requests in" in line:
            row["requests"] = int(parts[0])
        elif line.startswith("  Non-2xx or 3xx responses:"):
            row["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            row["socket_errors"] = line.strip()[len("Socket errors: "):]
    return row


def combine(parts):
    """One row for wrk runs made at once against several nodes: requests, req/s, error counts add
    up; a latency percentile is the worst node's, an upper bound of the percentile over all
    requests (the merged distribution's percentile lies between the nodes' lowest and highest)."""
    def total(key):
        values = [p[key] for p in parts]
        return None if None in values else sum(values)

    def worst(key):
        values = [p[key] for p in parts]
        return None if None in values else max(values)

    socket = {}
    for p in parts:
        for kind, n in re.findall(r"(\w+) (\d+)", p["socket_errors"] or ""):
            socket[kind] = socket.get(kind, 0) + int(n)
    rps = total("rps")
    return {"rps": None if rps is None else round(rps, 1), "p50_ms": worst("p50_ms"),
            "p90_ms": worst("p90_ms"), "p99_ms": worst("p99_ms"), "requests": total("requests"),
            "non_2xx": total("non_2xx"),
            "socket_errors": ", ".join(f"{k} {n}" for k, n in socket.items()) or None,
            "nodes": parts}


def parse_runs(text):
    """A row from one raw file: a single wrk output, or several after "=== wrk N URL" lines."""
    sections = re.split(r"^=== wrk \d+ .*$\n?", text, flags=re.M)
    if len(sections) == 1:
        return parse_wrk(text)
    return combine([parse_wrk(t) for t in sections[1:]])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_num(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def collect(raw_dir):
    """Rows (one per measured server and workload) and skip reasons from run.sh's raw dir."""
    rows, skipped = [], []
    for name in sorted(os.listdir(raw_dir)):
        m = re.fullmatch(r"(\w+?)__(\w+)\.(txt|skip)", name)
        if not m:
            continue
        with open(os.path.join(raw_dir, name)) as f:
            text = f.read()
        if m.group(3) == "skip":
            skipped.append({"server": m.group(1), "workload": m.group(2), "reason": text.strip()})
            continue
        row = {"server": m.group(1), "workload": m.group(2), **parse_runs(text)}
        base = os.path.join(raw_dir, name[:-4])
        if os.path.exists(base + ".cpu"):
            with open(base + ".cpu") as f:
                row["cpu"] = json.load(f)
        if os.path.exists(base + ".tries"):
            with open(base + ".tries") as f:
                row["attempts"] = int(f.read().strip() or 1)
        rows.append(row)
    return rows, skipped


def run_meta():
    """The run's parameters (from the environment) and the machine."""
    store = os.environ.get("BASALT_STORE", "sqlite")
    basalt = "basalt release build, " + (
        "on PostgreSQL, a fresh database on Parse's PostgreSQL server" if store == "postgres"
        else "embedded SQLite, fresh data dir")
    servers = {
        "parse": "Parse Server 9.10.0 (Node.js) on PostgreSQL, anchor start.sh",
        "basalt": basalt,
        "ceiling": "bench-ceiling: bare axum, fixed 150-byte BenchItem object",
    }
    nodes = int(os.environ.get("NODES", "1"))
    if nodes == 2:
        servers["basalt_x2"] = ("two basalt nodes on that same database, load split evenly by two "
                                "wrk processes run at once: req/s summed, latency the worse node's")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": os.environ.get("COMMIT", ""),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release()},
        "duration": os.environ.get("DURATION"),
        "warmup": os.environ.get("WARMUP"),
        "build": os.environ.get("BUILD"),
        "loadavg_before": os.environ.get("LOAD_BEFORE"),
        "loadavg_after": os.environ.get("LOAD_AFTER"),
        "noisy_pct": int(os.environ.get("NOISY_PCT", "20")),
        "connections": int(os.environ.get("CONNS", "0")),
        "threads": int(os.environ.get("THREADS", "0")),
        "seed": int(os.environ.get("SEED", "0")),
        "workload_order": os.environ.get("WORKLOADS", " ".join(ORDER)).split(),
        "basalt_store": store,
        "nodes": nodes,
        "node_rounds": int(os.environ.get("NODE_ROUNDS", "1")),
        "servers": servers,
    }


def render(doc):
    """Prints the markdown tables for a results document (what latest.json holds)."""
    meta, rows = doc["meta"], doc["rows"]
    skipped = {(s["server"], s["workload"]): s["reason"] for s in doc.get("skipped", [])}
    by = {(r["server"], r["workload"]): r for r in rows}
    workloads = [w for w in ORDER if w in meta["workload_order"]]
    print(f"{meta['date']}  commit {meta['commit']}  {meta['machine']['nproc']} cores "
          f"({meta['machine']['cpu']})  wrk -t{meta['threads']} -c{meta['connections']} "
          f"-d{meta['duration']} (warm-up {meta['warmup']})  seed {meta['seed']}  "
          f"loadavg before {meta['loadavg_before']}")
    print()
    print("| workload | Parse req/s | Parse p99 ms | basalt req/s | basalt p50 ms | basalt p99 ms "
          "| basalt/Parse |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for w in workloads:
        p, b = by.get(("parse", w)), by.get(("basalt", w))
        ratio = "n/a"
        if p and b and p["rps"] and b["rps"]:
            ratio = f"{b['rps'] / p['rps']:.1f}x"
        print(f"| {w} | {fmt_num(p and p['rps'])} | {fmt_num(p and p['p99_ms'], 1)} "
              f"| {fmt_num(b and b['rps'])} | {fmt_num(b and b['p50_ms'], 2)} "
              f"| {fmt_num(b and b['p99_ms'], 1)} | {ratio} |")
    c, b = by.get(("ceiling", "get")), by.get(("basalt", "get"))
    if c:
        pct = "n/a"
        if b and b["rps"] and c["rps"]:
            pct = f"basalt get = {100 * b['rps'] / c['rps']:.0f}% of ceiling"
        print(f"| get, ceiling (bare axum, fixed object) | | | {fmt_num(c['rps'])} "
              f"| {fmt_num(c['p50_ms'], 2)} | {fmt_num(c['p99_ms'], 1)} | {pct} |")
    problems = [r for r in rows if r["non_2xx"] or (r["socket_errors"] and
                any(int(x) for x in re.findall(r"\d+", r["socket_errors"])))]
    two_nodes = meta.get("nodes", 1) == 2
    servers = ("parse", "basalt") + (("basalt_x2",) if two_nodes else ())
    missing = [(s, w) for w in workloads for s in servers if (s, w) not in by]
    if problems or missing:
        print()
    for r in problems:
        print(f"- {LABELS.get(r['server'], r['server'])} {r['workload']}: {r['non_2xx']} non-2xx "
              "responses" + (f", socket errors: {r['socket_errors']}" if r["socket_errors"] else ""))
    for s, w in missing:
        print(f"- {LABELS.get(s, s)} {w}: n/a ({skipped.get((s, w), 'not measured')})")
    if two_nodes:
        render_nodes(by, workloads)

    # CPU during each measured run, in % of one core (the machine has nproc * 100%). "other" is
    # machine busy time not spent in the server process, wrk or (for Parse) PostgreSQL: anything
    # else running on the machine, which the measured server had to share the cores with.
    print()
    print(f"CPU during each run, % of one core ({meta['machine']['nproc']} cores = "
          f"{100 * (meta['machine']['nproc'] or 1)}%):")
    print()
    print("| run | machine busy | server process | PostgreSQL | wrk | other | attempts |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    noisy = []
    limit = meta.get("noisy_pct", 20)
    for w in workloads:
        for srv in ("parse", "basalt", "basalt_x2", "ceiling"):
            r = by.get((srv, w))
            if not r or "cpu" not in r:
                continue
            c = r["cpu"]
            uses_pg = c.get("uses_postgres", srv == "parse")
            pg = f"{c['postgres_cpu_pct']}%" if uses_pg else "-"
            label = f"{LABELS.get(srv, srv)} {w}"
            print(f"| {label} | {c['machine_busy_pct']}% | {c['server_cpu_pct']}% | {pg} "
                  f"| {c['wrk_cpu_pct']}% | {c['other_pct']}% | {r.get('attempts', 1)} |")
            if c["other_pct"] > limit:
                noisy.append(label)
    if two_nodes:
        print()
        print("(basalt x2 nodes: server process = both nodes together; wrk = both wrk processes)")
    if noisy:
        print()
        print(f"warning: something else used over {limit}% of a core during: {', '.join(noisy)}; "
              "those figures are low, rerun on a quiet machine")


def render_nodes(by, workloads):
    """The one-node vs two-node table: both on the same PostgreSQL database, same total load."""
    print()
    print("One basalt node vs two on the same PostgreSQL database, same total connections (split "
          "evenly between the nodes); two-node req/s is the sum over the nodes, p50/p99 the worse "
          "node's. Coordination loss = 1 - (2 nodes / 1 node); negative: two nodes did more.")
    print()
    print("| workload | 1 node req/s | 1 node p99 ms | 2 nodes req/s | node 1 + node 2 "
          "| 2 nodes p50 ms | 2 nodes p99 ms | 2 nodes / 1 node | coordination loss |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    over = []
    for w in workloads:
        one, two = by.get(("basalt", w)), by.get(("basalt_x2", w))
        if not one and not two:
            continue
        ratio = loss = "n/a"
        if one and two and one["rps"] and two["rps"]:
            r = two["rps"] / one["rps"]
            ratio, loss = f"{r:.2f}x", f"{100 * (1 - r):.0f}%"
            if 100 * (1 - r) > MAX_LOSS_PCT:
                over.append(f"{w} ({loss})")
        split = " + ".join(fmt_num(n["rps"]) for n in (two or {}).get("nodes", [])) or "n/a"
        print(f"| {w} | {fmt_num(one and one['rps'])} | {fmt_num(one and one['p99_ms'], 1)} "
              f"| {fmt_num(two and two['rps'])} | {split} | {fmt_num(two and two['p50_ms'], 2)} "
              f"| {fmt_num(two and two['p99_ms'], 1)} | {ratio} | {loss} |")
    rounds = {w: node_rounds(by, w) for w in workloads}
    if any(len(r) > 1 for r in rounds.values()):
        over = render_rounds(rounds)
    if over:
        print()
        print(f"- two nodes lose more than {MAX_LOSS_PCT}% of one node's throughput on: "
              + ", ".join(over))


def node_rounds(by, w):
    """(1 node, 2 nodes) req/s of each round of a workload: round 1 is basalt / basalt_x2, round
    k (NODE_ROUNDS) basalt_rk / basalt_x2_rk, measured one after the other."""
    out, k = [], 1
    while True:
        suffix = "" if k == 1 else f"_r{k}"
        one, two = by.get((f"basalt{suffix}", w)), by.get((f"basalt_x2{suffix}", w))
        if not one or not two:
            return out
        if one["rps"] and two["rps"]:
            out.append((one["rps"], two["rps"]))
        k += 1


def render_rounds(rounds):
    """The rounds table; returns the workloads whose median ratio loses more than the goal."""
    print()
    print("Alternating rounds (one node, then two, repeated): run-to-run spread on this machine is "
          "larger than the 10% being measured, so the verdict is the median of the rounds' "
          "two-node / one-node ratios.")
    print()
    print("| workload | rounds | 1 node req/s, each round | 2 nodes req/s, each round "
          "| 2 nodes / 1 node, each round | median | loss at the median |")
    print("|---|---:|---|---|---|---:|---:|")
    over = []
    for w, pairs in rounds.items():
        if not pairs:
            continue
        ratios = [two / one for one, two in pairs]
        median = statistics.median(ratios)
        loss = 100 * (1 - median)
        if loss > MAX_LOSS_PCT:
            over.append(f"{w} ({loss:.0f}% at the median)")
        print(f"| {w} | {len(pairs)} | {', '.join(fmt_num(o) for o, _ in pairs)} "
              f"| {', '.join(fmt_num(t) for _, t in pairs)} "
              f"| {', '.join(f'{r:.2f}x' for r in ratios)} | {median:.2f}x | {loss:.0f}% |")
    return over


def main():
    if sys.argv[1] == "--render":  # report.py --render results.json: the tables again
        with open(sys.argv[2]) as f:
            render(json.load(f))
        return
    raw_dir, out_path = sys.argv[1], sys.argv[2]
    rows, skipped = collect(raw_dir)
    doc = {"meta": run_meta(), "rows": rows, "skipped": skipped}
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    render(doc)


if __name__ == "__main__":
    main()
