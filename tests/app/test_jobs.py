"""Background processes for real: an RQ worker and the cron scheduler as subprocesses."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import Worker
from rq.job import Job

from app.extensions import db
from app.models import LoginSession, utcnow
from app.queue import enqueue, redis_connection
from app.system import registry_jobs

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi", "rq"]


def run_burst_worker(env) -> None:
    subprocess.run(
        [*FLASK, "worker", "--burst"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def _old_session(user, **fields) -> LoginSession:
    row = LoginSession(id=secrets.token_hex(8), user_id=user.id, **fields)
    db.session.add(row)
    return row


def test_a_job_runs_in_a_real_worker_with_the_app(app, admin, service_env):
    _old_session(admin, created_at=utcnow() - timedelta(days=30))
    _old_session(admin, created_at=utcnow())
    db.session.commit()
    job = enqueue("app.jobs.purge_login_sessions", queue="low")
    run_burst_worker(service_env)
    assert Job.fetch(job.id, connection=redis_connection()).return_value() == 1
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(LoginSession.id))) == 1


def test_the_job_is_idempotent(app, admin):
    from app.jobs import purge_login_sessions

    _old_session(admin, created_at=utcnow() - timedelta(days=30))
    db.session.commit()
    assert purge_login_sessions() == 1
    assert purge_login_sessions() == 0


def test_enqueue_with_a_job_id_does_not_queue_twice(app):
    first = enqueue("app.jobs.purge_login_sessions", job_id="purge-once")
    second = enqueue("app.jobs.purge_login_sessions", job_id="purge-once")
    assert first.id == second.id
    assert redis_connection().lrange("rq:queue:default", 0, -1) == [b"purge-once"]


def test_failed_jobs_show_on_the_system_page_and_can_be_requeued_and_deleted(
    app, client, admin, login, service_env
):
    job = enqueue("app.jobs.no_such_job")
    run_burst_worker(service_env)
    assert [j.id for j in registry_jobs("failed")] == [job.id]
    login(admin)
    page = client.get("/admin/system?jobs=failed").get_data(as_text=True)
    assert job.id in page and "app.jobs.no_such_job" in page and "Requeue" in page
    client.post(f"/admin/system/jobs/{job.id}/requeue?jobs=failed")
    assert registry_jobs("failed") == []
    assert Job.fetch(job.id, connection=redis_connection()).get_status() == "queued"
    client.post(f"/admin/system/jobs/{job.id}/delete")
    assert not redis_connection().exists(Job.key_for(job.id))
    gone = client.post(f"/admin/system/jobs/{job.id}/delete", follow_redirects=True)
    assert "gone already" in gone.get_data(as_text=True)


@pytest.mark.slow
def test_health_reports_workers_and_scheduler(app, client, service_env):
    assert client.get("/healthz").status_code == 503  # nobody processes jobs yet
    processes = [
        subprocess.Popen(
            [*FLASK, name],
            cwd=ROOT,
            env=service_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("worker", "cron")
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            report = client.get("/healthz")
            if report.status_code == 200:
                break
            time.sleep(0.3)
        assert report.status_code == 200, report.json
        assert report.json == {
            "db": "ok",
            "pipeline_db": "ok",
            "redis": "ok",
            "workers": 1,
            "scheduler": "ok",
        }
        # RQ registers a worker before it installs its SIGTERM handler; stopping it in
        # that window would leave a ghost registration behind, so wait until it idles.
        while Worker.all(connection=redis_connection())[0].get_state() != "idle":
            assert time.monotonic() < deadline, "the worker never became idle"
            time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert client.get("/healthz").json["workers"] == 0
