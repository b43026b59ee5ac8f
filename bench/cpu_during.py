#!/usr/bin/env python3
"""CPU used by every process on the host while a `burnrate` process is alive.

Usage: bench/cpu_during.py [RUNS]   (start it, then the benchmark, e.g.
       RUNS=2 bench/run_drain_bench.sh build; it reports once per burnrate
       process that comes and goes, RUNS times, default 1)

For each such lifetime it prints the wall time, the host's busy and idle
CPU seconds (/proc/stat: user, nice, system, irq, softirq, steal) and the
CPU seconds of each program (by name, summed over its processes, from
/proc/PID/stat), so a drain's cost can be split between burnrate, the
broker (java), Redis and the rest, and idle cores show up as idle.
"""
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def process_ticks():
    """{pid: (name, user + system ticks)} of every process now."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks[int(entry)] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def host_ticks():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def burnrate_alive(ticks):
    return any(name == "burnrate" for name, _ in ticks.values())


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    for run in range(1, runs + 1):
        while not burnrate_alive(start := process_ticks()):
            time.sleep(0.02)
        t0, host0 = time.time(), host_ticks()
        last_seen = dict(start)  # a process that exits keeps its last reading
        while True:
            time.sleep(0.1)
            now = process_ticks()
            last_seen.update(now)
            if not burnrate_alive(now):
                break
        t1, host1 = time.time(), host_ticks()
        by_name = {}
        for pid, (name, ticks) in last_seen.items():
            before = start[pid][1] if pid in start else 0
            by_name[name] = by_name.get(name, 0) + ticks - before
        d = [b - a for a, b in zip(host0, host1)]
        user, nice, system, idle, _iowait, irq, softirq, steal = d[:8]
        busy = (user + nice + system + irq + softirq + steal) / HZ
        print(f"run {run}: wall {t1 - t0:.2f} s, host busy {busy:.2f} s, idle {idle / HZ:.2f} s "
              f"(user {user / HZ:.2f}, system {system / HZ:.2f}, steal {steal / HZ:.2f})")
        for name, ticks in sorted(by_name.items(), key=lambda item: -item[1]):
            if ticks / HZ >= 0.05:
                print(f"  {name:24s} {ticks / HZ:.2f} s")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
