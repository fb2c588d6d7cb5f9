"""``trialbook ui`` as a real server process, ``serve()``'s errors, and ``ls --watch``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from cli_helpers import Cli, assert_user_error

import trialbook
from trialbook.dashboard import serve
from trialbook.errors import TrialbookError, WorkspaceError

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}
DEADLINE = 60.0


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child: SIGINT back to its default, so Python turns Ctrl-C into
    KeyboardInterrupt even when the tests run in a background job (whose processes inherit
    SIGINT as ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    src = str(Path(trialbook.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Lines:
    """The lines a process writes to a pipe, read by a thread so a test can wait for one."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = DEADLINE) -> list[str]:
        """Wait until ``count`` lines containing ``text`` came; return those lines."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [line for line in self.lines if text in line]
                if len(found) >= count:
                    return found
                left = end - time.monotonic()
                if left <= 0 or (not self._thread.is_alive() and len(found) < count):
                    raise AssertionError(f"no {count}x {text!r} in {self.lines}")
                self._cond.wait(min(left, 0.5))

    def text(self) -> str:
        self._thread.join(DEADLINE)
        return "\n".join(self.lines)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "experiments"
    with trialbook.start_run("exp", {"lr": 0.1}, seed=1, name="alpha", root=root, **FAST) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    return root


def _start(*args: str, **env: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialbook", *args],
        preexec_fn=_ctrl_c_as_in_a_terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )
    assert proc.stdout is not None and proc.stderr is not None
    return proc, Lines(proc.stdout), Lines(proc.stderr)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(DEADLINE)


def test_ui_serves_the_api_and_stops_with_exit_0_on_ctrl_c(
    workspace: Path, processes: list[subprocess.Popen[str]]
) -> None:
    proc, out, err = _start("ui", "--root", str(workspace), "--port", "0")
    processes.append(proc)
    (url,) = out.wait_for("http://")
    assert url.startswith("http://127.0.0.1:") and "token" not in url
    assert "Ctrl-C" in err.wait_for("Ctrl-C")[0]
    schema = httpx.get(url + "api/openapi.json", timeout=DEADLINE)
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "trialbook dashboard"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(DEADLINE) == 0
    assert "Traceback" not in err.text()


def test_ui_on_a_taken_port_is_one_sentence_naming_the_port(workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = Cli()("ui", "--root", workspace, "--port", str(port))
    line = assert_user_error(result, str(port), "--port")
    assert "already in use" in line


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_ui_bad_port_is_a_usage_error(workspace: Path, port: str) -> None:
    assert_user_error(Cli()("ui", "--root", workspace, "--port", port), "--port")


def test_ui_without_a_workspace_is_one_sentence(tmp_path: Path) -> None:
    assert_user_error(Cli()("ui", "--root", tmp_path / "nothing", "--port", "0"))


def test_ui_off_loopback_generates_a_token_and_prints_it_in_the_url(
    workspace: Path, processes: list[subprocess.Popen[str]]
) -> None:
    proc, out, _ = _start("ui", "--root", str(workspace), "--port", "0", "--host", "0.0.0.0")
    processes.append(proc)
    (url,) = out.wait_for("http://")
    token = url.split("?token=", 1)[1]
    assert len(token) >= 32
    port = url.split(":")[2].split("/")[0]
    api = f"http://127.0.0.1:{port}/api/openapi.json"
    assert httpx.get(api, timeout=DEADLINE).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(api, headers=bearer, timeout=DEADLINE).status_code == 200
    proc.send_signal(signal.SIGINT)
    assert proc.wait(DEADLINE) == 0


def test_ui_open_opens_the_url_in_the_browser(
    workspace: Path, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    proc, out, _ = _start(
        "ui", "--root", str(workspace), "--port", "0", "--open", "--token", "s3cret",
        BROWSER=str(browser),
    )  # fmt: skip
    processes.append(proc)
    (url,) = out.wait_for("http://")
    assert url.endswith("/?token=s3cret")
    end = time.monotonic() + DEADLINE
    while not (opened.exists() and opened.read_text().strip()) and time.monotonic() < end:
        time.sleep(0.05)
    assert opened.read_text().strip() == url
    proc.send_signal(signal.SIGINT)
    assert proc.wait(DEADLINE) == 0


def test_serve_calls_on_ready_with_the_url_then_stops_on_sigint(workspace: Path) -> None:
    seen: list[str] = []
    codes: list[int] = []

    def client(url: str) -> None:
        try:
            codes.append(httpx.get(url + "api/openapi.json", timeout=DEADLINE).status_code)
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    def ready(url: str) -> None:
        # on_ready runs on the server's event loop: the request is made from another thread.
        seen.append(url)
        threading.Thread(target=client, args=(url,), daemon=True).start()

    # On the main thread, where uvicorn catches Ctrl-C; as in a terminal even when the tests
    # run in a background job (which inherits SIGINT as ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        serve(root=workspace, port=0, on_ready=ready)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(seen) == 1 and seen[0].startswith("http://127.0.0.1:")
    assert codes == [200]


def test_serve_errors_name_their_parameter(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(TrialbookError) as info:
        serve(root=workspace, port=65536)
    assert info.value.parameter == "port"
    with pytest.raises(TrialbookError) as info:
        serve(root=workspace, port=0, token="")
    assert info.value.parameter == "token"
    with pytest.raises(TrialbookError) as info:
        serve(root=workspace, port=0, host="no-such-host.invalid")
    assert info.value.parameter == "host"
    with pytest.raises(WorkspaceError):
        serve(root=tmp_path / "nothing", port=0)


def test_ls_watch_redraws_until_ctrl_c(
    workspace: Path, processes: list[subprocess.Popen[str]]
) -> None:
    proc, out, err = _start("ls", "--watch", "0.2", "--root", str(workspace))
    processes.append(proc)
    out.wait_for("alpha", count=2)  # drawn, then drawn again
    # A run that starts while watching shows up in a later drawing.
    with trialbook.start_run("exp", {"lr": 0.2}, name="beta", root=workspace, **FAST):
        pass
    out.wait_for("beta")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(DEADLINE) == 0
    assert "Traceback" not in err.text()
    assert "ls --watch 0.2" in out.text()


def test_ls_watch_without_seconds_takes_the_next_option(
    workspace: Path, processes: list[subprocess.Popen[str]]
) -> None:
    proc, out, _ = _start("ls", "--watch", "--root", str(workspace))
    processes.append(proc)
    out.wait_for("alpha")
    assert "--watch 2.0" in out.lines[0]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(DEADLINE) == 0


def test_ls_watch_refuses_json_and_non_positive_seconds(workspace: Path) -> None:
    assert_user_error(Cli()("ls", "--watch", "--json", "--root", workspace), "--watch")
    for bad in ("0", "-1", "nan", "inf"):
        assert_user_error(Cli()("ls", "--watch", bad, "--root", workspace), "--watch")


def test_ls_watch_on_a_terminal_redraws_in_place(workspace: Path) -> None:
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialbook", "ls", "--watch", "0.2", "--root", str(workspace)],
        preexec_fn=_ctrl_c_as_in_a_terminal,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(COLUMNS="120", TERM="xterm"),
    )
    os.close(follower)
    screen = b""
    try:
        end = time.monotonic() + DEADLINE
        while screen.count(b"alpha") < 3 and time.monotonic() < end:
            if select.select([leader], [], [], 0.5)[0]:
                screen += os.read(leader, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(DEADLINE) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert screen.count(b"alpha") >= 3
    assert b"\x1b[1A" in screen  # the cursor goes back up: the table is redrawn, not appended
    assert b"Traceback" not in screen
