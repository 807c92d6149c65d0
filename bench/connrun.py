#!/usr/bin/env python3
"""Runs one connector command for bench/any-order.sh and watches it.

Usage: bench/connrun.py --out RESULT.json --watch DIR [--timeout S] [--wal-cap BYTES]
                        [--min-free BYTES] -- COMMAND...

- wall seconds, from just before the start to the exit;
- every `batch landed` line of the command's stderr (run it with --log-level debug) is stamped on
  arrival with a monotonic clock: when the first rows were visible in the KB, and per-batch
  flatness (the gaps between landings: the last tenth of them against the first tenth);
- every ~50 ms, the total size of the `*-wal` files under DIR (the job's state dir, where its KB
  lives): the peak is kept;
- the command (its whole process group) is killed, and the run reported as aborted, when that WAL
  passes --wal-cap (default 20 GiB), when the free space of DIR's file system falls under
  --min-free (default 5 GiB), or after --timeout seconds.
The command's stdout (the connector's summary line) goes to RESULT.json's "summary"; the last
stderr lines that are not batch lines go to its "log_tail".
"""
import argparse, json, os, signal, subprocess, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--watch", required=True)
parser.add_argument("--timeout", type=float, default=600.0)
parser.add_argument("--wal-cap", type=int, default=20 << 30)
parser.add_argument("--min-free", type=int, default=5 << 30)
parser.add_argument("command", nargs=argparse.REMAINDER)
args = parser.parse_args()
command = args.command[1:] if args.command[:1] == ["--"] else args.command

state = {"peak_wal": 0, "aborted": None}
done = threading.Event()


def wal_bytes(root):
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith("-wal"):
                try:
                    total += os.stat(os.path.join(folder, name)).st_size
                except FileNotFoundError:
                    pass
    return total


def kill(process, reason):
    if state["aborted"] is None:
        state["aborted"] = reason
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def watch(process, started):
    while not done.is_set():
        size = wal_bytes(args.watch)
        state["peak_wal"] = max(state["peak_wal"], size)
        if size > args.wal_cap:
            kill(process, f"WAL passed {args.wal_cap >> 20} MiB")
        else:
            try:
                fs = os.statvfs(args.watch)
                if fs.f_bavail * fs.f_frsize < args.min_free:
                    kill(process, f"less than {args.min_free >> 20} MiB free on the disk")
            except FileNotFoundError:
                pass
        if time.monotonic() - started > args.timeout:
            kill(process, f"timeout after {args.timeout:.0f} s")
        done.wait(0.05)


os.makedirs(args.watch, exist_ok=True)
started = time.monotonic()
process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
watcher = threading.Thread(target=watch, args=(process, started), daemon=True)
watcher.start()
stdout_lines = []
reader = threading.Thread(target=lambda: stdout_lines.extend(process.stdout), daemon=True)
reader.start()
landings, tail = [], []
for line in process.stderr:
    if "batch landed" in line:
        rows = 0
        if "batch.rows=" in line:
            try:
                rows = int(line.split("batch.rows=")[1].split()[0])
            except ValueError:
                pass
        landings.append((time.monotonic() - started, rows))
    else:
        tail = (tail + [line.rstrip()])[-20:]
rc = process.wait()
wall = time.monotonic() - started
done.set()
watcher.join()
reader.join()
state["peak_wal"] = max(state["peak_wal"], wal_bytes(args.watch))

result = {"wall": wall, "rc": rc, "aborted": state["aborted"], "peak_wal": state["peak_wal"],
          "summary": "".join(stdout_lines).strip(), "log_tail": tail, "batches": len(landings),
          "first_batch_s": landings[0][0] if landings else None, "flatness": None}
gaps = [b[0] - a[0] for a, b in zip(landings, landings[1:])]
tenth = len(gaps) // 10
if tenth >= 1:
    first, last = sum(gaps[:tenth]), sum(gaps[-tenth:])
    result["flatness"] = {"first_decile_s": first, "last_decile_s": last,
                          "ratio": last / first if first > 0 else None, "gaps_per_decile": tenth}
with open(args.out, "w") as f:
    json.dump(result, f)
