#!/usr/bin/env python3
"""Group the samples of a basalt perf profile into a few cost buckets, from whole call stacks.

usage: perf script -i perf.data -F tid,period,ip,sym --no-inline | perf_buckets.py

Each sample goes to the first bucket (in the order below) with a frame on its stack matching the
bucket's pattern (a tuple: every pattern matches some frame) and no frame matching its optional
exclusion pattern, so "SQLite: re-prepare" is counted before "SQLite: execute", and work done on a
blocking-pool thread for SQLite counts as SQLite, not as pool overhead. Prints the share of
samples per bucket, then the top leaf symbols of each of the biggest buckets.
"""
import collections
import re
import sys

BUCKETS = [
    ("anyhow/std backtrace capture", r"Backtrace>::create|_Unwind_Backtrace"),
    ("SQLite: statement (re-)prepare = SQL parse + plan",
     r"^sqlite3Reprepare|^sqlite3LockAndPrepare|^sqlite3_prepare"),
    ("SQLite: commit, WAL write, checkpoint",
     r"^sqlite3VdbeHalt|^sqlite3WalFrames|^sqlite3WalCheckpoint|^sqlite3WalDefaultHook|"
     r"^sqlite3PagerCommitPhase"),
    ("SQLite: begin/locks (fcntl, shm)", r"^unixShmLock|^unixLock|^unixUnlock|^walTryBeginRead"),
    ("SQLite: execute (step, btree, vdbe, its malloc)", r"^sqlite3|^rusqlite::"),
    ("tokio spawn_blocking: hand-off to a pool thread (queue lock, futex wake)",
     r"^tokio::runtime::blocking::pool::Spawner|^tokio::runtime::blocking::pool::spawn_blocking"),
    ("store locks: reader pool mutex + condvar (wait and wake)",
     (r"lock_contended|Condvar|^syscall$", r"^basalt_store::|^<basalt_store::")),
    # tokio starts its async worker threads on the blocking pool too, so every worker stack has
    # the pool's run loop at its root: only stacks without the worker loop are pool overhead.
    ("tokio blocking pool: pool thread park/unpark, run loop",
     r"^tokio::runtime::blocking::pool", r"multi_thread::worker::run$"),
    ("JSON encode/decode (serde_json)", r"^serde_json::|serde_core::"),
    ("tokio worker idle: parked in epoll_wait / futex (incl. the switch back)",
     r"^epoll_wait|^do_epoll|park_internal|park_timeout|Parker>::park|Inner>::park"),
    ("socket I/O + TCP stack (kernel): send, receive, loopback delivery",
     r"writev|^__libc_recv|recvfrom|sendto|^tcp_|^sock_|^__sys_recv|^__libc_send"),
    ("SQLite writer thread: queue and group bookkeeping", r"basalt_store::sqlite::writer::run"),
    # the request's service (axum router, middleware, handlers) runs under hyper-util's
    # TowerToHyperServiceFuture; the handlers themselves are basalt_* frames
    ("basalt code: api handlers, engine, core (rest of it)", r"^basalt_|^<basalt_"),
    ("axum router + tower/tower-http middleware",
     r"TowerToHyperServiceFuture|^<?axum::routing|^<?axum::middleware|^<F as axum::handler|"
     r"^<?tower::|^<?tower_http::"),
    ("hyper: HTTP/1 parse, encode, connection state", r"^<?hyper::|^<?hyper_util::"),
    ("tokio worker: scheduling, park, timers", r"^tokio::|^<tokio"),
    # stacks too deep for perf's stack copy lose their root
    ("unresolved (stack cut short)", r"^\[unknown\]$"),
]


def load(stream):
    samples, cur = [], None
    for line in stream:
        if not line.strip():
            if cur is not None:
                samples.append(cur)
            cur = None
        elif not line[0].isspace():
            cur = []
        elif cur is not None:
            m = re.match(r"\s*[0-9a-f]+ (.*)$", line.rstrip("\n"))
            if m:
                cur.append(m.group(1))
    if cur:
        samples.append(cur)
    return samples


def main():
    samples = load(sys.stdin)
    n = len(samples)
    if not n:
        print("no samples")
        return
    compiled = [(b[0], [re.compile(x) for x in (b[1] if isinstance(b[1], tuple) else (b[1],))],
                 re.compile(b[2]) if len(b) > 2 else None) for b in BUCKETS]
    counts, leaves = collections.Counter(), collections.defaultdict(collections.Counter)
    for s in samples:
        bucket = "other"
        for name, rxs, exclude in compiled:
            if all(any(rx.search(f) for f in s) for rx in rxs) and not (
                    exclude and any(exclude.search(f) for f in s)):
                bucket = name
                break
        counts[bucket] += 1
        leaves[bucket][s[0][:100] if s else "?"] += 1
    print(f"{n} samples")
    for name, c in counts.most_common():
        print(f"  {100 * c / n:5.1f}%  {name}")
    print()
    for name, c in counts.most_common(6):
        top = ", ".join(f"{k} {100 * v / n:.1f}%" for k, v in leaves[name].most_common(5))
        print(f"  {name}: {top}")


if __name__ == "__main__":
    main()
