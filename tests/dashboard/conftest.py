"""Shared fixtures of the dashboard tests: workspaces made with ``trialbook.start_run``, the
dashboard served by a real uvicorn on 127.0.0.1 (port 0, in a thread of the test process), and
a real headless Chromium driven by Playwright.

Under ``CI=true`` a missing Chromium or Playwright fails the browser tests (through
:func:`trialbook.testing.skip_unavailable`); elsewhere they are skipped with the reason."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import trialbook

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TRIALBOOK_ENV = ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_STORE_URL")


def png(width: int = 96, height: int = 48) -> bytes:
    """A small PNG (a blue-to-red gradient): an image artifact the run page shows inline."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    line = b"".join(bytes((255 * x // width, 80, 255 - 255 * x // width)) for x in range(width))
    rows = (b"\0" + line) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


LOSS_POINTS = 60


@dataclass
class Workspace:
    """A workspace built for the dashboard tests, with the ids of its runs by name."""

    root: Path
    ids: dict[str, str] = field(default_factory=dict)


def _samples(correct: list[bool]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "input": f"What is {i} + {i}?",
            "prediction": str(2 * i if ok else i),
            "reference": str(2 * i),
            "correct": ok,
        }
        for i, ok in enumerate(correct)
    ]


def build_workspace(root: Path) -> Workspace:
    """Two seed groups (baseline lr=0.001 and tuned lr=0.01, seeds 1-3) with loss curves of
    :data:`LOSS_POINTS` steps, a gsm8k evaluation with samples, a checkpoint, an image
    artifact and training dynamics on one run."""
    from trialbook.cartography import DynamicsRecorder

    ws = Workspace(root)
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    for experiment, lr, right in [("baseline", 0.001, 5), ("tuned", 0.01, 8)]:
        for seed in (1, 2, 3):
            name = f"{experiment}-s{seed}"
            config = {"lr": lr, "optimizer": "adam", "model": {"layers": 2}}
            with trialbook.start_run(
                experiment, config, seed=seed, name=name, tags=["sweep"], **common
            ) as run:
                print(f"training {name}", flush=True)
                for step in range(LOSS_POINTS):
                    run.log(
                        {
                            "loss": (1.0 + seed / 10) / (step + 1) + lr,
                            "acc": 0.5 + step / (2 * LOSS_POINTS),
                        },
                        step=step,
                    )
                correct = [i < right + (seed % 2) for i in range(10)]
                run.log_evaluation(
                    "gsm8k",
                    {
                        "metrics": {"accuracy": sum(correct) / 10},
                        "split": "test",
                        "samples": _samples(correct),
                    },
                )
                weights = run.checkpoint_dir / "model.pt"
                weights.write_bytes(b"\0" * 256)
                run.log_checkpoint(weights, step=LOSS_POINTS - 1)
                if name == "baseline-s1":
                    for step in range(0, LOSS_POINTS, 10):  # as the sampler writes them
                        run.log(
                            {"system/cpu_percent": 50.0 + step, "system/rss_mb": 300.0}, step=step
                        )
                    image = root.parent / "curve.png"
                    image.write_bytes(png())
                    run.log_artifact(image, kind="plot")
                    recorder = DynamicsRecorder(run)
                    for epoch in range(3):
                        recorder.record(
                            epoch,
                            [f"q{i}" for i in range(10)],
                            [min(0.99, 0.05 + i / 14 + epoch * (i % 4) / 12) for i in range(10)],
                            [i % 3 != 0 for i in range(10)],
                        )
                    recorder.save()
                ws.ids[name] = run.id
    return ws


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TRIALBOOK_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The shared read-only workspace (built once per session)."""
    root = tmp_path_factory.mktemp("dashboard") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        for name in TRIALBOOK_ENV:
            mp.delenv(name, raising=False)
        return build_workspace(root)


class LiveServer:
    """The dashboard over ``root``, served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, root: Path, **settings: Any) -> None:
        import uvicorn

        from trialbook.dashboard import DashboardSettings, create_app

        app = create_app(root=root, settings=DashboardSettings(**settings))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard's uvicorn server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()


@pytest.fixture(scope="session")
def live(workspace: Workspace) -> Iterator[LiveServer]:
    """The dashboard of :func:`workspace`, served for the whole session."""
    with LiveServer(workspace.root) as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """Start a dashboard over another workspace: ``serve(root, **settings)``."""
    with contextlib.ExitStack() as stack:
        yield lambda root, **settings: stack.enter_context(LiveServer(root, **settings))


@dataclass
class Tab:
    """A browser page with what it reported: script errors, dialogs, console errors."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def open(self, url: str) -> Any:
        """Go to ``url`` and wait until the page's script has rendered its data."""
        self.page.goto(url)
        self.page.wait_for_selector("main[data-loaded=true]", timeout=20_000)
        return self.page

    def screenshot(self, name: str) -> Path:
        """A full-page PNG under build/screenshots/ (kept as a CI artifact)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh 1400-px-wide page; dialogs are recorded and dismissed."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    t = Tab(page)
    page.on("pageerror", lambda e: t.errors.append(str(e)))
    page.on("console", lambda m: t.console.append(m.text) if m.type == "error" else None)

    def _dialog(d: Any) -> None:
        t.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", _dialog)
    try:
        yield t
    finally:
        context.close()
