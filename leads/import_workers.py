"""Normalizing an import's chunks in helper processes while the runner writes.

Normalizing (phonenumbers, email-validator) is most of an import's work and
touches no database, so two forked helpers normalize the next chunks while the
runner writes the current one: one chunk in flight per helper, results taken in
file order, so memory stays flat whatever the file's size. The runner alone
reads the file and writes, so the cursor, cancelling and resuming work as
without helpers.

A helper stops when its pipe closes: when the runner is done, fails, or is
killed (even with SIGKILL, since only the runner holds the other end).
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain
from multiprocessing.connection import Connection

from leads.import_chunks import ChunkResult, RunSettings, normalize_chunk
from leads.sources import RowProblem, SourceRow

HELPERS = 2  # one per core of the machines this runs on; the runner mostly waits
STOP_SECONDS = 5
# An import allocates millions of short-lived objects that reference counting
# frees; at the default threshold the cyclic collector would run thousands of
# times, walking every object of the app each full pass (measured: the write
# half took 2.6 times as long).
GC_THRESHOLD = 200_000

Chunk = list[SourceRow | RowProblem]


class NormalizedChunks:
    """The chunks of ``chunks``, normalized, in order; a context manager that owns the helpers.

    The first chunk is normalized in this process, so a file of one chunk (a
    typical upload) never starts a helper.
    """

    def __init__(self, settings: RunSettings, chunks: Iterator[Chunk]) -> None:
        self._settings = settings
        self._chunks = chunks
        self._helpers: list[tuple[multiprocessing.Process, Connection]] = []

    def __enter__(self) -> NormalizedChunks:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        for _, connection in self._helpers:
            connection.close()  # the helper reads end-of-file and exits
        for process, _ in self._helpers:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        self._helpers.clear()

    def __iter__(self) -> Iterator[tuple[int, ChunkResult]]:
        """(records in the chunk, its normalized result) for each chunk."""
        first = next(self._chunks, None)
        if first is None:
            return
        second = next(self._chunks, None)
        yield len(first), normalize_chunk(self._settings, first)
        if second is None:
            return
        self._start_helpers()
        in_flight: deque[tuple[int, Connection]] = deque()
        upcoming = chain([second], self._chunks)
        for (_, connection), chunk in zip(self._helpers, upcoming, strict=False):
            in_flight.append(_send(connection, chunk))
        while in_flight:
            size, connection = in_flight.popleft()
            result = _receive(connection)
            if (chunk := next(self._chunks, None)) is not None:
                in_flight.append(_send(connection, chunk))
            yield size, result

    def _start_helpers(self) -> None:
        context = multiprocessing.get_context("fork")
        for _ in range(HELPERS):
            ours, theirs = context.Pipe()
            runner_ends = [*(c for _, c in self._helpers), ours]
            process = context.Process(
                target=_serve, args=(self._settings, theirs, runner_ends), daemon=True,
                name="import-normalizer",
            )  # fmt: skip
            process.start()
            theirs.close()
            self._helpers.append((process, ours))


def _send(connection: Connection, chunk: Chunk) -> tuple[int, Connection]:
    connection.send(chunk)
    return len(chunk), connection


def _receive(connection: Connection) -> ChunkResult:
    outcome = connection.recv()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


@contextmanager
def rare_collections() -> Iterator[None]:
    """Collect cycles rarely and never walk the objects that exist already (the app's)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _serve(settings: RunSettings, connection: Connection, runner_ends: list[Connection]) -> None:
    """A helper's loop: normalize each chunk it receives and send the result back."""
    for end in runner_ends:
        end.close()  # inherited by the fork: open here, they would hide the runner's exit
    try:
        while True:
            chunk = connection.recv()
            try:
                outcome: ChunkResult | Exception = normalize_chunk(settings, chunk)
            except Exception as exc:  # handed to the runner, which raises it
                outcome = exc
            connection.send(outcome)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
