"""Hostile workspaces and stores: a missing or misplaced workspace, store URLs that are not
URLs, databases that are folders, foreign, truncated or damaged (one ``error:`` line, exit 2,
nothing created, the damaged file left as it was)."""

from __future__ import annotations

import os
import sys

import pytest
from hostile_helpers import SCRIPTED, Case, CliCase, c, check_cli_case, params

EXP = {"exp.yaml": SCRIPTED.replace("lr: 0.1", "lr: 0.4")}
NOWS = ("--root", "{tmp}/nows")


def db_folder(case: Case) -> None:
    (case.tmp / "dbdir" / "trialbook.db").mkdir(parents=True)


def truncate_db(case: Case) -> None:
    db = case.ws / "trialbook.db"
    os.truncate(db, db.stat().st_size // 2)


def damage_db_middle(case: Case) -> None:
    """8 KB of garbage at half the file, as the issue's audit did."""
    db = case.ws / "trialbook.db"
    with db.open("r+b") as f:
        f.seek(db.stat().st_size // 2)
        f.write(os.urandom(8192))


def foreign_db(case: Case) -> None:
    import sqlite3

    con = sqlite3.connect(case.tmp / "foreign.db")
    con.execute("CREATE TABLE people (name TEXT)")
    con.execute("INSERT INTO people VALUES ('ada')")
    con.commit()
    con.close()


MISSING_WORKSPACE = [
    c(
        f"missing-workspace-{'-'.join(a for a in args if not a.startswith(('{', '-')))}",
        *args,
        *NOWS,
        names=["{tmp}/nows"],
    )
    for args in [
        ("ls",),
        ("show", "alpha"),
        ("stats",),
        ("export", "--all"),
        ("leaderboard", "--benchmark", "gsm8k"),
        ("compare", "alpha", "beta"),
        ("significance", "alpha", "beta"),
        ("report", "alpha", "-o", "{tmp}/r.html"),
        ("analyze", "--out-dir", "{tmp}/out"),
        ("db", "status"),
        ("db", "upgrade"),
        ("reproduce", "scripted"),
    ]
] + [
    c(
        "missing-workspace-from-env",
        "ls",
        names=["{tmp}/nows"],
        env={"TRIALBOOK_ROOT": "{tmp}/nows"},
    ),
    c(
        "root-is-a-file-ls",
        "ls",
        "--root",
        "{tmp}/plain.txt",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
    c(
        "root-is-a-file-run",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/plain.txt",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x", **EXP},
    ),
    c(
        "root-under-a-file-ls",
        "ls",
        "--root",
        "{tmp}/plain.txt/ws",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
    c(
        "root-under-a-file-run",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/plain.txt/ws",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x", **EXP},
    ),
    c(
        "root-under-a-file-evaluate",
        "evaluate",
        "gsm8k",
        "-n",
        "1",
        "--predictions",
        "{tmp}/p.jsonl",
        "--root",
        "{tmp}/plain.txt/ws",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x", "p.jsonl": '{"id": "0", "prediction": "#### 18"}\n'},
    ),
]

STORES = [
    c("store-not-a-url-ls", "ls", "--store", "notaurl", names=["notaurl"]),
    c("store-not-a-url-stats", "stats", "--store", "notaurl", names=["notaurl"]),
    c("store-not-a-url-from-env", "ls", names=["notaurl"], env={"TRIALBOOK_STORE": "notaurl"}),
    c("store-unknown-dialect", "ls", "--store", "oracle://h@127.0.0.1:1/x", names=["oracle"]),
    c("store-sqlite-in-memory", "ls", "--store", "sqlite://", names=["sqlite://"]),
    c(
        "store-sqlite-missing-folder",
        "ls",
        "--store",
        "sqlite:///{tmp}/nodir/x.db",
        names=["{tmp}/nodir/x.db"],
    ),
    c(
        "store-empty-file-ls",
        "ls",
        "--store",
        "sqlite:///{tmp}/empty.db",
        names=["{tmp}/empty.db"],
        files={"empty.db": b""},
    ),
    c(
        "store-garbage-ls",
        "ls",
        "--store",
        "sqlite:///{tmp}/garbage.db",
        names=["{tmp}/garbage.db"],
        files={"garbage.db": os.urandom(4096)},
    ),
    c(
        "store-garbage-run",
        "run",
        "{tmp}/exp.yaml",
        "--store",
        "sqlite:///{tmp}/garbage.db",
        names=["{tmp}/garbage.db"],
        files={"garbage.db": b"x" * 4096, **EXP},
    ),
    c(
        "store-garbage-db-upgrade",
        "db",
        "upgrade",
        "--store",
        "sqlite:///{tmp}/garbage.db",
        names=["{tmp}/garbage.db"],
        files={"garbage.db": b"x" * 4096},
    ),
    c(
        "store-text-file-ls",
        "ls",
        "--store",
        "sqlite:///{tmp}/notes.txt",
        names=["{tmp}/notes.txt"],
        files={"notes.txt": "hello\n"},
    ),
    c(
        "store-foreign-sqlite-ls",
        "ls",
        "--store",
        "sqlite:///{tmp}/foreign.db",
        names=["{tmp}/foreign.db"],
        prepare=foreign_db,
    ),
    c(
        "store-foreign-sqlite-run",
        "run",
        "{tmp}/exp.yaml",
        "--store",
        "sqlite:///{tmp}/foreign.db",
        names=["{tmp}/foreign.db"],
        files=EXP,
        prepare=foreign_db,
    ),
    c(
        "store-foreign-sqlite-db-upgrade",
        "db",
        "upgrade",
        "--store",
        "sqlite:///{tmp}/foreign.db",
        names=["{tmp}/foreign.db"],
        prepare=foreign_db,
    ),
    c(
        "db-is-a-folder-ls",
        "ls",
        "--root",
        "{tmp}/dbdir",
        names=["trialbook.db"],
        prepare=db_folder,
    ),
    c(
        "db-is-a-folder-stats",
        "stats",
        "--root",
        "{tmp}/dbdir",
        names=["trialbook.db"],
        prepare=db_folder,
    ),
    c(
        "db-is-a-folder-run",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/dbdir",
        names=["trialbook.db"],
        files=EXP,
        prepare=db_folder,
    ),
    c("db-truncated-ls", "ls", "--root", "{ws}", names=["trialbook.db"], prepare=truncate_db),
    c(
        "db-truncated-show",
        "show",
        "alpha",
        "--root",
        "{ws}",
        names=["trialbook.db"],
        prepare=truncate_db,
    ),
    c(
        "db-truncated-run",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{ws}",
        names=["trialbook.db"],
        files=EXP,
        prepare=truncate_db,
    ),
    c(
        "db-damaged-middle-run",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{ws}",
        names=["trialbook db"],
        files=EXP,
        prepare=damage_db_middle,
    ),
    c(
        "db-damaged-middle-evaluate",
        "evaluate",
        "gsm8k",
        "-n",
        "1",
        "--predictions",
        "{tmp}/p.jsonl",
        "--run",
        "alpha",
        "--root",
        "{ws}",
        names=["trialbook db"],
        files={"p.jsonl": '{"id": "0", "prediction": "#### 18"}\n'},
        prepare=damage_db_middle,
    ),
]

CASES = MISSING_WORKSPACE + STORES


@pytest.mark.parametrize("x", params(CASES))
def test_unusable_workspace_or_store_is_one_line_and_untouched(case: Case, x: CliCase) -> None:
    check_cli_case(case, x)


#: PostgreSQL drivers SQLAlchemy may import for a postgresql:// URL.
PG_DRIVERS = ("psycopg", "psycopg2", "pg8000", "asyncpg")


@pytest.mark.parametrize("args", [["ls"], ["run", "{tmp}/exp.yaml"]], ids=["ls", "run"])
def test_postgres_url_without_the_driver_names_the_extra(
    case: Case, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shared venv may have a driver installed: hide it as a machine without it would.
    for name in PG_DRIVERS:
        monkeypatch.setitem(sys.modules, name, None)
    x = c(
        "postgres-without-driver",
        *args,
        "--store",
        "postgresql://h@127.0.0.1:1/x",
        names=["postgres", "pip install"],
        files=EXP,
    )
    check_cli_case(case, x)
