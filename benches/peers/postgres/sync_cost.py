"""What one durable commit costs when the log grows vs when it overwrites
space filled with zeros beforehand (as PostgreSQL's WAL does: new WAL files
are zero-filled, `wal_init_zero`, and recycled).

Usage: python3 benches/peers/postgres/sync_cost.py [DIR] [N] [ROUNDS]

Writes N frames of 875 bytes (the mean canonical record of the demo
workload), one `fdatasync` after each, into a file in DIR (default: a temp
dir), in ROUNDS rounds that alternate the two ways (order swapped every
round, so both see the same machine). Prints both rates per round, their
medians and the ratio per round. docs/PERFORMANCE.md ("Side by side:
PostgreSQL") says why ron-audit appends and what this costs it.
"""
import os
import statistics
import sys
import tempfile
import time

FRAME = b"x" * 875


def run(directory, n, prezeroed):
    path = os.path.join(directory, "sync-cost.bin")
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o600)
    try:
        if prezeroed:
            os.write(fd, b"\0" * (n * len(FRAME) + 4096))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        start = time.perf_counter()
        for _ in range(n):
            os.write(fd, FRAME)
            os.fdatasync(fd)
        return n / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.remove(path)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    grow, over = [], []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for prezeroed in order:
            (over if prezeroed else grow).append(run(directory, n, prezeroed))
        print(f"round {r + 1}: growing {grow[-1]:,.0f}/s, pre-zeroed {over[-1]:,.0f}/s")
    print(f"median: growing {statistics.median(grow):,.0f}/s, "
          f"pre-zeroed {statistics.median(over):,.0f}/s")
    ratios = sorted(o / g for g, o in zip(grow, over))
    print("pre-zeroed / growing per round: " + ", ".join(f"{x:.2f}" for x in ratios)
          + f" (median {statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
