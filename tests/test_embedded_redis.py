"""Tests for the embedded Redis server, run against the real redis-server binary."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.embedded_redis import EmbeddedRedis, EmbeddedRedisError


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still "exists" for kill(0); it has exited, which is what we care about.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def redis_pids(socket_path: Path) -> list[int]:
    """PIDs of live redis-servers on socket_path (they retitle to "... unixsocket:<path>")."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"unixsocket:{socket_path}".encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return [pid for pid in found if pid_exists(pid)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    redis = EmbeddedRedis(tmp_path)
    yield redis
    redis.stop()


def test_start_answers_ping_and_reports_ownership(server: EmbeddedRedis, tmp_path: Path) -> None:
    assert not server.is_running()
    assert server.start() is True
    assert server.is_running()
    assert server.socket_path == tmp_path.resolve() / "redis.sock"
    assert server.url == f"unix://{tmp_path.resolve()}/redis.sock?db=0"
    assert server.pid is not None
    assert (tmp_path / "redis.pid").read_text().strip() == str(server.pid)


def test_url_works_with_redis_py(server: EmbeddedRedis) -> None:
    redis = pytest.importorskip("redis")
    server.start()
    client = redis.Redis.from_url(server.url)
    assert client.ping()
    client.close()


def test_second_instance_shares_running_server(server: EmbeddedRedis, tmp_path: Path) -> None:
    server.start()
    other = EmbeddedRedis(tmp_path)
    assert other.start() is False
    assert other.pid is None
    # Its stop() must not take down a server it does not own.
    other.stop()
    assert server.is_running()
    assert redis_pids(server.socket_path) == [server.pid]


def test_stop_ends_the_process(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    pid = server.pid
    assert pid is not None
    server.stop()
    assert not pid_exists(pid)
    assert not server.is_running()
    assert not server.socket_path.exists()
    server.stop()  # idempotent


def test_context_manager(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        pid = server.pid
        assert server.is_running()
    assert pid is not None and not pid_exists(pid)


def test_stale_socket_file_is_replaced(server: EmbeddedRedis) -> None:
    # A socket file with nobody listening, as left by a server that was killed.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(server.socket_path))
    stale.close()
    assert server.socket_path.is_socket()
    assert not server.is_running()

    assert server.start() is True
    assert server.is_running()


def test_killed_server_is_restarted(server: EmbeddedRedis, tmp_path: Path) -> None:
    server.start()
    assert server.pid is not None
    os.kill(server.pid, 9)
    server._process.wait()  # type: ignore[union-attr]
    assert server.socket_path.exists()  # the killed server could not clean up

    replacement = EmbeddedRedis(tmp_path)
    try:
        assert replacement.start() is True
        assert replacement.is_running()
    finally:
        replacement.stop()


def test_data_survives_stop_and_start(server: EmbeddedRedis) -> None:
    redis = pytest.importorskip("redis")
    server.start()
    client = redis.Redis.from_url(server.url)
    client.set("leadline:test", "kept")
    client.close()
    server.stop()
    assert (server.directory / "redis.rdb").exists()

    assert server.start() is True
    client = redis.Redis.from_url(server.url)
    assert client.get("leadline:test") == b"kept"
    client.close()


def test_long_directory_falls_back_to_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    server = EmbeddedRedis(deep)
    assert len(os.fsencode(server.socket_path)) <= 103
    assert server.socket_path != deep / "redis.sock"
    assert EmbeddedRedis(deep).socket_path == server.socket_path  # stable across processes
    try:
        assert server.start() is True
        assert server.is_running()
    finally:
        server.stop()
    assert not server.socket_path.exists()
    assert (deep / "redis.rdb").exists()  # data still lives in the directory itself


def test_concurrent_starts_launch_one_server(tmp_path: Path) -> None:
    # Each process starts, reports whether it owns the server, and keeps it
    # alive until told to stop, so the race is real.
    script = (
        "import sys; from app.embedded_redis import EmbeddedRedis\n"
        "r = EmbeddedRedis(sys.argv[1]); print(r.start(), flush=True)\n"
        "sys.stdin.read(); r.stop()\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(4)
    ]
    try:
        answers = [p.stdout.readline().strip() for p in procs]  # type: ignore[union-attr]
        assert sorted(answers) == ["False", "False", "False", "True"]
    finally:
        for p in procs:
            p.communicate("", timeout=15)
    assert not EmbeddedRedis(tmp_path).is_running()


def fake_binary(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-redis-server"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_start_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = fake_binary(tmp_path, "echo 'FATAL: bad argument' >&2; exit 1")
    monkeypatch.setattr("app.embedded_redis._redis_server_binary", lambda: binary)
    server = EmbeddedRedis(tmp_path / "instance")
    with pytest.raises(EmbeddedRedisError) as info:
        server.start(timeout=5)
    message = str(info.value)
    assert "\n" not in message
    assert "exited during start-up (code 1): FATAL: bad argument" in message
    assert server.pid is None


def test_start_times_out_and_kills_the_hung_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "fake.pid"
    binary = fake_binary(tmp_path, f"echo $$ > {pid_file}; exec sleep 30")
    monkeypatch.setattr("app.embedded_redis._redis_server_binary", lambda: binary)
    server = EmbeddedRedis(tmp_path / "instance")
    started = time.monotonic()
    with pytest.raises(EmbeddedRedisError, match="did not answer"):
        server.start(timeout=0.5)
    assert time.monotonic() - started < 5
    assert server.pid is None
    assert not pid_exists(int(pid_file.read_text()))


ENSURE_SCRIPT = """
import sys, time
from app.embedded_redis import ensure_embedded_redis
server = ensure_embedded_redis(sys.argv[1])
print(server.pid, flush=True)
if sys.argv[2] == "wait":
    time.sleep(30)
"""


@pytest.mark.parametrize("ending", ["normal exit", "SIGTERM"])
def test_ensure_embedded_redis_never_outlives_its_process(tmp_path: Path, ending: str) -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ENSURE_SCRIPT,
            str(tmp_path),
            "exit" if ending == "normal exit" else "wait",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    redis_pid = int(proc.stdout.readline())  # type: ignore[union-attr]
    if ending == "SIGTERM":
        proc.terminate()
    proc.communicate(timeout=15)
    assert proc.returncode == (-15 if ending == "SIGTERM" else 0)
    assert not pid_exists(redis_pid)
    assert (tmp_path / "redis.rdb").exists()  # shut down with SAVE


def test_ensure_embedded_redis_leaves_a_foreign_server_alone(server: EmbeddedRedis) -> None:
    root = Path(__file__).resolve().parents[1]
    server.start()
    subprocess.run(
        [sys.executable, "-c", ENSURE_SCRIPT, str(server.directory), "exit"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert server.is_running()
