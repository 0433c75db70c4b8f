"""Crashing the app's own processes for real, as the crash-safety tests need."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL an RQ worker and its work-horse at once, as a crash of the machine would.

    The work-horse RQ forks for a job leaves the worker's process group, so it is
    found by parent pid; it lives for one job, so the one found may be gone already.
    """
    horses = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
    for pid in [worker.pid, *map(int, horses.stdout.split())]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()
