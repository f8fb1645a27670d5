"""The queue CLI (typer app) and the demo entry point, against real databases and a real server."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlalchemy import select as sql_select
from typer.testing import CliRunner

from secondary_crimes.queue import auth
from secondary_crimes.queue.cli import queue_app
from secondary_crimes.queue.db import Database
from secondary_crimes.queue.models import AuditEvent, Flag, User

SCORED_V1 = Path(__file__).parent / "data" / "scored_v1.jsonl"
runner = CliRunner()


def test_load_create_user_export(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(queue_app, ["load", str(SCORED_V1), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output and "flags: 6 added" in result.output
    result = runner.invoke(queue_app, ["load", str(SCORED_V1), "--db", db_url])
    assert "4 unchanged; flags: 0 added, 0 updated" in result.output

    result = runner.invoke(queue_app, ["create-user", "carol", "--role", "supervisor", "--db", db_url, "--no-prompt"])
    assert result.exit_code == 0, result.output
    password = re.search(r"password: (\S+)", result.output).group(1)
    result = runner.invoke(queue_app, ["create-user", "dave", "--db", db_url], input="a-typed-password\n" * 2)
    assert result.exit_code == 0 and "created auditor 'dave'" in result.output
    assert "password:" not in result.output  # a typed password is never echoed
    result = runner.invoke(queue_app, ["create-user", "carol", "--db", db_url, "--password", "another-password"])
    assert result.exit_code == 1 and "already exists" in result.output

    database = Database(db_url)
    try:
        with database.session() as session:
            assert auth.authenticate(session, "carol", password).role == "supervisor"
            assert auth.authenticate(session, "dave", "a-typed-password").role == "auditor"
            actions = session.scalars(sql_select(AuditEvent.action).order_by(AuditEvent.id)).all()
            assert actions == ["load", "load", "create_user", "create_user"]
    finally:
        database.dispose()
    result = runner.invoke(queue_app, ["export", "--out", str(tmp_path / "labels.jsonl"), "--db", db_url])
    assert result.exit_code == 0 and "wrote 0 incident(s) with decided offences" in result.output


def test_load_reports_bad_files(sqlite_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"incident_id": "X1"}\n', encoding="utf-8")
    result = runner.invoke(queue_app, ["load", str(bad), "--db", sqlite_url])
    assert result.exit_code == 1 and "line 1: incident X1: model_version" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_prints_credentials_that_work(tmp_path: Path) -> None:
    """run_demo_queue loads, creates an auditor, prints the credentials and serves; a new user decides."""
    url, port = f"sqlite:///{tmp_path / 'demo.db'}", _free_port()
    code = (
        "import sys; from secondary_crimes.queue.cli import run_demo_queue; "
        "run_demo_queue(sys.argv[1], sys.argv[2], '127.0.0.1', int(sys.argv[3]))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(SCORED_V1), url, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output, deadline = "", time.monotonic() + 60
        while not re.search(r"password: \S+\n", output):
            assert time.monotonic() < deadline and process.poll() is None, output
            if select.select([process.stdout], [], [], 0.5)[0]:
                output += process.stdout.readline()
        username = re.search(r"username: (\S+)", output).group(1)
        password = re.search(r"password: (\S+)", output).group(1)
        assert f"http://127.0.0.1:{port}/login" in output
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as client:
            while True:
                try:
                    page = client.get("/login")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, output
                    time.sleep(0.2)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            queue = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
            assert queue.url.path == "/queue" and '<b id="total">4</b>' in queue.text
            flag = re.search(r'data-flags="(\d+)', queue.text).group(1)
            token = re.search(r'name="csrf_token" value="([^"]+)"', queue.text).group(1)
            saved = client.post(
                f"/flags/{flag}/decision",
                data={"csrf_token": token, "version": "0", "action": "more_info", "note": "demo"},
            )
            assert saved.status_code == 200 and "Saved:" in saved.text
    finally:
        process.terminate()
        process.wait(timeout=10)
    database = Database(url)
    try:
        with database.session() as session:
            assert session.scalar(sql_select(func.count(Flag.id)).where(Flag.status == "more_info")) == 1
            assert session.scalar(sql_select(User.role).where(User.username == username)) == "auditor"
    finally:
        database.dispose()
