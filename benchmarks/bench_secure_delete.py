"""What ``PRAGMA secure_delete=ON`` (deleted rows zeroed in the file, for erasure) costs.

    .venv/bin/python benchmarks/bench_secure_delete.py [--rows 200000]

Two fresh SQLite files in WAL mode, each with a leads-like table of ``--rows`` rows and
an index on email: the same inserts, an update of every tenth row and a delete of every
other row, once with secure_delete off (the baseline) and once on. Prints the time of
each (medians of ``--repeat`` interleaved runs) and the ratios; the last line is
``secure_delete: insert=… update=… delete=…``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path


def run(path: Path, rows: int, secure: bool) -> dict[str, float]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA secure_delete={'ON' if secure else 'OFF'}")
    connection.execute(
        "CREATE TABLE leads (id INTEGER PRIMARY KEY, name TEXT, email TEXT, notes TEXT)"
    )
    connection.execute("CREATE UNIQUE INDEX ix_email ON leads (email)")
    data = [(n, f"Person {n}", f"person{n}@example.com", "x" * 120) for n in range(rows)]
    timings = {}
    for name, statement, parameters in (
        ("insert", "INSERT INTO leads VALUES (?, ?, ?, ?)", data),
        ("update", "UPDATE leads SET notes = ? WHERE id = ?",
         [("y" * 80, n) for n in range(0, rows, 10)]),
        ("delete", "DELETE FROM leads WHERE id = ?", [(n,) for n in range(0, rows, 2)]),
    ):  # fmt: skip
        start = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany(statement, parameters)
        connection.execute("COMMIT")
        timings[name] = time.perf_counter() - start
    connection.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(args.repeat):
            for secure in (False, True):  # interleaved, so drift hits both alike
                path = Path(folder) / f"{attempt}-{secure}.db"
                runs[secure].append(run(path, args.rows, secure))
    off, on = ({name: statistics.median(r[name] for r in runs[s]) for name in runs[s][0]}
               for s in (False, True))  # fmt: skip
    for name in off:
        ratio = on[name] / off[name]
        print(f"{name:7} off {off[name]:.3f} s  on {on[name]:.3f} s  ratio {ratio:.2f}x")
    ratios = " ".join(f"{name}={on[name] / off[name]:.2f}" for name in off)
    print(f"secure_delete: {ratios}")


if __name__ == "__main__":
    main()
