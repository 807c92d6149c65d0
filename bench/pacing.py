#!/usr/bin/env python3
"""Runs the connector at several max_rows_per_sec caps and measures what it really read.

Usage: bench/pacing.py BIN DSN [SECONDS]. For each cap (1,000, 10,000, 50,000 rows/s) it runs
`timbal-connector extract` on bench_events for SECONDS (default 20), timestamps every
`batch landed` line as it arrives (the cap is judged on rows landed in the KB), and prints
achieved rate / cap and the most rows landed in any one-second window / cap.
"""
import json, os, signal, subprocess, sys, tempfile, time

binary, dsn = sys.argv[1], sys.argv[2]
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0

def run(cap):
    work = tempfile.mkdtemp(prefix="timbal-pacing-")
    with open(f"{work}/connections.json", "w") as f:
        json.dump({"bench": {"kind": "postgres", "dsn": dsn}}, f)
    with open(f"{work}/job.json", "w") as f:
        json.dump({"kb_id": 1, "dest_table": "paced", "placement": "local", "pacing": {"max_rows_per_sec": cap},
                   "source": {"kind": "postgres", "connection_ref": "bench", "table": "bench_events",
                              "cursor_column": "updated_at"}}, f)
    process = subprocess.Popen([binary, "extract", "--job", f"{work}/job.json", "--connections", f"{work}/connections.json",
                                "--state-dir", f"{work}/state", "--log-level", "trace"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    fetches = []
    deadline = None
    for line in process.stderr:
        if "batch landed" not in line:
            continue
        now = time.monotonic()
        rows = int(line.split("batch.rows=")[1].split()[0])
        fetches.append((now, rows))
        if deadline is None:
            deadline = now + seconds
        if now >= deadline:
            process.send_signal(signal.SIGTERM)
            break
    process.wait()
    # Sustained rate: rows landed before the last batch, over the time to it.
    span = fetches[-1][0] - fetches[0][0]
    rate = sum(r for _, r in fetches[:-1]) / span
    busiest = 0
    for i, (start, _) in enumerate(fetches):
        busiest = max(busiest, sum(r for t, r in fetches[i:] if t < start + 1.0))
    return rate, busiest, len(fetches), span

print(f"{'cap rows/s':>10}  {'achieved/cap':>12}  {'max 1s window/cap':>17}  {'queries':>7}  {'seconds':>7}")
for cap in (1000, 10000, 50000):
    rate, busiest, queries, span = run(cap)
    print(f"{cap:>10}  {rate / cap:>12.3f}  {busiest / cap:>17.3f}  {queries:>7}  {span:>7.1f}")
