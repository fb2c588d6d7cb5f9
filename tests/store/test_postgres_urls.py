"""PostgreSQL store URLs: ``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy's own
default would be psycopg2, which the ``postgres`` extra does not install), and without the
driver every way in (the ``trialbook`` command, ``--store`` or TRIALBOOK_STORE, the Python API)
is one sentence naming ``pip install 'trialbook[postgres]'``.

The driver is hidden the way a machine without it looks: a ``sitecustomize`` on PYTHONPATH
whose import hook answers ``No module named 'psycopg'``, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import trialbook

INSTALL = "pip install 'trialbook[postgres]'"

HIDE_DRIVERS = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary", "psycopg_c"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _python(
    tmp_path: Path, *args: str, hide: bool, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    path = [str(Path(trialbook.__file__).resolve().parents[1])]
    if hide:
        site = tmp_path / "no-driver"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(textwrap.dedent(HIDE_DRIVERS))
        path.insert(0, str(site))
    env["PYTHONPATH"] = os.pathsep.join([*path, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TRIALBOOK_SYSTEM_METRICS"] = "0"
    env.update(extra_env or {})
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, *args], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:s3cret@127.0.0.1/runs",
        "postgres://me:s3cret@127.0.0.1/runs",
        "postgresql+psycopg://me:s3cret@127.0.0.1/runs",
    ],
)
@pytest.mark.parametrize("command", [["ls"], ["run", "exp.yaml"], ["db", "upgrade"], ["stats"]])
def test_without_the_driver_every_command_is_one_sentence_naming_the_extra(
    tmp_path: Path, url: str, command: list[str]
) -> None:
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "exp.yaml").write_text("experiment: {name: e, command: 'true'}\n")
    before = _tree(tmp_path / "cwd")

    result = _python(tmp_path, "-m", "trialbook", *command, "--store", url, hide=True)

    line = _one_line(result)
    assert "is PostgreSQL, whose driver is not installed" in line, line
    assert "No module named 'psycopg'" in line and line.endswith(f"run {INSTALL}."), line
    assert "me:***@127.0.0.1/runs" in line and "s3cret" not in line
    scheme = url.split("://")[0]
    assert f"The store {scheme}://me:***@127.0.0.1/runs is PostgreSQL" in line, line  # as typed
    assert _tree(tmp_path / "cwd") == before  # no workspace made for a store that cannot open


def test_without_the_driver_the_store_from_the_environment_is_one_sentence(
    tmp_path: Path,
) -> None:
    env = {"TRIALBOOK_STORE": "postgresql://me@127.0.0.1/runs"}
    line = _one_line(_python(tmp_path, "-m", "trialbook", "ls", hide=True, extra_env=env))
    assert INSTALL in line, line


def test_without_the_driver_the_python_api_raises_a_store_error_naming_the_extra(
    tmp_path: Path,
) -> None:
    code = textwrap.dedent("""
        import trialbook
        from trialbook.errors import StoreError
        try:
            trialbook.open_store(store_url="postgresql://me@127.0.0.1/runs", create=True)
        except StoreError as e:
            print(type(e).__name__, e)
    """)
    result = _python(tmp_path, "-c", code, hide=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("StoreError The store postgresql://me@127.0.0.1/runs is")
    assert INSTALL in result.stdout


def test_a_psycopg2_url_without_psycopg2_names_both_ways_out(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://me@127.0.0.1/runs"
    line = _one_line(_python(tmp_path, "-m", "trialbook", "ls", "--store", url, hide=True))
    assert "asks for the psycopg2 driver, which is not installed" in line, line
    assert "write postgresql:// instead" in line and INSTALL in line
    assert "pip install psycopg2-binary" in line


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_url_without_a_driver_name_opens_with_psycopg_3(
    postgres_server: str, tmp_path: Path, scheme: str
) -> None:
    """No psycopg2 is needed (nor imported): the plain URL runs on psycopg 3."""
    from trialbook.testing.stores import new_postgres_database

    url = make_url(new_postgres_database(postgres_server)).set(drivername=scheme)
    code = textwrap.dedent("""
        import sys
        from trialbook.store import connect
        store = connect(sys.argv[1], create=True)
        store.ensure_experiment("plain-url")
        print(store.engine.dialect.driver, [e.name for e in store.list_experiments()],
              "psycopg2" in sys.modules)
        store.close()
    """)
    result = _python(tmp_path, "-c", code, url.render_as_string(hide_password=False), hide=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["psycopg", "['plain-url']", "False"]
