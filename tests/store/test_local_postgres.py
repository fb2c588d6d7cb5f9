"""The throwaway PostgreSQL server the tests start (``trialbook.testing.stores.local_postgres``)
works where CI and developers run it: with the server programs only in Debian's
/usr/lib/postgresql/<version>/bin (not on PATH), and as a user who is not root (as root it runs
the server as ``nobody``, since initdb refuses root). Either way it asks the members of
``PASSWORD_GROUP`` for their password (others are trusted), and leaves nothing behind."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from trialbook.testing import BackendUnavailable
from trialbook.testing.stores import (
    PASSWORD_GROUP,
    _postgres_bin,
    local_postgres,
    skip_unavailable,
)


def _use(url: str) -> str:
    """What the server says about itself, and whether it asks a new role for its password."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
            conn.execute(
                text(f"CREATE ROLE somebody LOGIN PASSWORD 'right' IN ROLE {PASSWORD_GROUP}")
            )
            conn.execute(text("CREATE ROLE trusted LOGIN"))
    finally:
        engine.dispose()
    verdicts = []
    for password in ("right", "wrong"):
        other = create_engine(make_url(url).set(username="somebody", password=password))
        try:
            with other.connect() as conn:
                verdicts.append(f"{password}:{conn.execute(text('SELECT current_user')).scalar()}")
        except Exception as e:
            verdicts.append(f"{password}:{'refused' if 'password' in str(e) else e}")
        finally:
            other.dispose()
    trusted = create_engine(make_url(url).set(username="trusted"))
    try:
        with trusted.connect() as conn:
            verdicts.append(f"trusted:{conn.execute(text('SELECT current_user')).scalar()}")
    finally:
        trusted.dispose()
    return f"{int(version) // 10000} {' '.join(verdicts)}"


def _started_and_removed() -> str:
    with local_postgres() as url:
        folder = Path(make_url(url).query["host"]).parent  # type: ignore[arg-type]
        said = _use(url)
        assert folder.is_dir()
    return f"{said} removed:{not folder.exists()}"


def _debian_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        skip_unavailable(BackendUnavailable("No /usr/lib/postgresql/*/bin/initdb here."))
    return Path(found[-1]).parent


def test_the_server_programs_are_found_in_debians_folder_when_not_on_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = _debian_bin()
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("TRIALBOOK_TEST_PG_BIN", raising=False)

    assert _postgres_bin() == expected
    major = expected.parent.name
    assert (
        _started_and_removed()
        == f"{major} right:somebody wrong:refused trusted:trusted removed:True"
    )


def test_a_folder_named_by_the_variable_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRIALBOOK_TEST_PG_BIN", str(tmp_path))
    assert _postgres_bin() == tmp_path
    with pytest.raises(BackendUnavailable, match="No PostgreSQL server programs"), local_postgres():
        pass


def _as_user(name: str, job: Callable[[], str]) -> str:
    """``job()`` in a forked child that has become ``name`` (everything it needs is imported
    already: the user may not read this interpreter's own files)."""
    import pwd

    entry = pwd.getpwnam(name)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.write(write, job().encode())
            code = 0
        except BaseException as e:
            os.write(write, f"{type(e).__name__}: {e}".encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, said
    return said


def test_a_user_who_is_not_root_starts_the_server_as_themself() -> None:
    bindir = _postgres_bin()
    if bindir is None:
        skip_unavailable(BackendUnavailable("No PostgreSQL server programs here."))
    if os.geteuid() != 0:
        said = _started_and_removed()  # this user already is not root
    else:
        create_engine("postgresql+psycopg://x@/x")  # the dialect and driver, loaded before
        said = _as_user("nobody", lambda: f"{os.geteuid()} {_started_and_removed()}")
        uid, said = said.split(" ", 1)
        assert int(uid) != 0
    assert said.endswith("right:somebody wrong:refused trusted:trusted removed:True"), said
