"""Provenance of a run: the git state of the code, the machine and Python environment it ran in,
and content digests of the files it read.

Nothing here raises because git, a GPU or a hardware counter is missing; such facts come back as
``None`` or an empty list so that recording provenance can never stop a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from trialbook._redact import hide_passwords
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import Distribution

__all__ = [
    "GitInfo",
    "GitProbe",
    "collect_environment",
    "count_rows",
    "git_info",
    "path_digest",
    "sha256_file",
    "warm_caches",
]

_GIT_TIMEOUT_S = 10.0
_NVIDIA_SMI_TIMEOUT_S = 5.0
_MAX_UNTRACKED_LISTED = 20
_ROW_COUNTED_SUFFIXES = frozenset({".jsonl", ".csv", ".tsv", ".txt"})
_HEADER_SUFFIXES = frozenset({".csv", ".tsv"})


@dataclass(frozen=True)
class GitInfo:
    """The state of the git work tree a run was started from.

    ``diff`` is ``git diff HEAD`` (followed by a ``# untracked: ...`` comment line when there are
    untracked files) and is set only when ``dirty`` is true. ``remote`` is the URL of ``origin``
    with any user name or token removed.
    """

    commit: str
    branch: str | None
    dirty: bool
    diff: str | None
    remote: str | None


#: PYTHONHASHSEED when this module was first imported, i.e. as the interpreter (or the fork
#: server a run was forked from) started; a later os.environ change cannot alter hashing.
_START_HASH_SEED: str | None = os.environ.get("PYTHONHASHSEED") or None


def _git(args: list[str], cwd: Path | None) -> str | None:
    """Run one git command and return its stdout, or None if git failed in any way."""
    return _git_output(_start_git(args, cwd))


def _start_git(args: list[str], cwd: Path | None) -> subprocess.Popen[str] | None:
    """Start one git command (its output is read by :func:`_git_output`); None if git
    cannot be started."""
    try:
        # --no-optional-locks: `git status` would otherwise rewrite the index, which can race
        # with the user's own git commands while a run is starting.
        return subprocess.Popen(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _git_output(proc: subprocess.Popen[str] | None) -> str | None:
    """The stdout of a git command started by :func:`_start_git`, once it ended; None if it
    failed or took longer than ``_GIT_TIMEOUT_S`` (it is then killed)."""
    if proc is None:
        return None
    with proc:
        try:
            out, _ = proc.communicate(timeout=_GIT_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError, ValueError):
            proc.kill()
            proc.communicate()
            return None
    if proc.returncode != 0:
        return None
    return out


def _strip_credentials(url: str) -> str:
    """Drop ``user:token@`` from an http(s) remote URL so secrets never reach the store."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=host))
    return url


def _untracked_comment(names: Sequence[str]) -> str | None:
    if not names:
        return None
    shown = ", ".join(names[:_MAX_UNTRACKED_LISTED])
    more = len(names) - _MAX_UNTRACKED_LISTED
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"# untracked: {shown}{suffix}\n"


def _relative_to_cwd(names: Sequence[str], top: Path, cwd: Path | None) -> list[str]:
    """Names git status gives relative to the work tree's top, relative to ``cwd`` instead
    (as ``git ls-files`` gives them)."""
    try:
        here = Path(cwd if cwd is not None else os.getcwd()).resolve()
    except OSError:
        return list(names)
    if here == top:
        return list(names)
    out = []
    for name in names:
        relative = os.path.relpath(top / name, here)
        out.append(relative + "/" if name.endswith("/") else relative)
    return out


def _exclude_pathspec(top: Path, exclude: Sequence[Path]) -> list[str]:
    """``-- :/ :(top,exclude)<path>`` for each excluded folder inside the work tree ``top``."""
    specs = []
    for path in exclude:
        try:
            rel = Path(path).resolve().relative_to(top)
        except ValueError:
            continue  # outside the work tree: git does not see it anyway
        if str(rel) != ".":
            specs.append(f":(top,exclude){rel.as_posix()}")
    return ["--", ":/", *specs] if specs else []


#: (where, what could change the answer) -> (work tree top, origin URL) or None: found once
#: per process and place (each costs a git process), asked again when the answer may differ.
_work_trees: dict[tuple[Any, ...], tuple[Path, str | None] | None] = {}


def _work_tree(cwd: Path | None) -> tuple[Path, str | None] | None:
    """The top of the git work tree holding ``cwd`` and its ``origin`` URL; None outside one.

    Git finds a repository by looking for ``.git`` in the folder and its parents; so does
    this, so that a folder without one costs no git process, and a ``git init`` (or a new
    remote, which changes ``.git/config``) is noticed.
    """
    try:
        here = Path(cwd if cwd is not None else os.getcwd()).resolve()
    except OSError:
        return None
    git_env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_")))
    marker: Path | None = None
    config_stamp: int | None = None
    for folder in (here, *here.parents):
        dot_git = folder / ".git"
        try:
            st = dot_git.stat()
        except OSError:
            continue
        marker = folder
        if stat.S_ISDIR(st.st_mode):
            with contextlib.suppress(OSError):
                config_stamp = (dot_git / "config").stat().st_mtime_ns
        break
    if marker is None and not any(k in ("GIT_DIR", "GIT_WORK_TREE") for k, _ in git_env):
        return None
    key = (here, marker, config_stamp, git_env, os.environ.get("PATH"))
    if key in _work_trees:
        return _work_trees[key]
    top_out = _git(["rev-parse", "--show-toplevel"], cwd)
    found: tuple[Path, str | None] | None = None
    if top_out and top_out.strip():
        remote_out = _git(["config", "--get", "remote.origin.url"], cwd)
        remote = remote_out.strip() if remote_out and remote_out.strip() else None
        found = (Path(top_out.strip()).resolve(), remote)
    if len(_work_trees) > 64:
        _work_trees.clear()
    _work_trees[key] = found
    return found


def git_info(cwd: Path | None = None, exclude: Sequence[Path] = ()) -> GitInfo | None:
    """Describe the git work tree containing ``cwd`` (default: the current directory).

    Returns None when ``cwd`` is not inside a git work tree, git is not installed, the repository
    has no commits yet, or git fails or times out. Untracked (not ignored) files count as dirty,
    since a script can import a module that was never committed. Folders in ``exclude`` (the
    trialbook workspace, whose run folders appear as new files) do not make the tree dirty.

    One ``git status`` gives the commit, the branch and whether the tree is dirty (plus
    ``git diff`` when it is); where the work tree is and its remote are found once per
    process (see :func:`_work_tree`).
    """
    return GitProbe(exclude, cwd=cwd).result()


class GitProbe:
    """:func:`git_info` started now and read later: ``git status`` runs (as its own process)
    while the caller does other work (opening the Store, making the run folder), and
    :meth:`result` reads its answer. The directory is the current one when the probe starts.

    The process is started from the calling thread rather than run from a thread of its own:
    such a thread waits for the interpreter lock (up to 5 ms at each turn) while the caller
    runs Python code, which made git the slowest part of starting a run.
    """

    def __init__(self, exclude: Sequence[Path] = (), *, cwd: Path | None = None) -> None:
        self._cwd = Path(cwd) if cwd is not None else Path(_cwd() or ".")
        self._done = False
        self._info: GitInfo | None = None
        self._tree = _work_tree(self._cwd)
        self._status: subprocess.Popen[str] | None = None
        self._pathspec: list[str] = []
        if self._tree is not None:
            self._pathspec = _exclude_pathspec(self._tree[0], exclude)
            # -z: names as they are; --untracked-files=all: every untracked file by name (as
            # `git ls-files --others` lists them), so the diff's comment needs no second git
            # process.
            status = ["status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all"]
            self._status = _start_git([*status, *self._pathspec], self._cwd)
            if self._status is None:
                self._tree = None

    def result(self) -> GitInfo | None:
        """The git state (None outside a work tree), once git has answered."""
        if not self._done:
            self._done = True
            self._info = self._read()
        return self._info

    def close(self) -> None:
        """Stop git if its answer was never read (the run was not created)."""
        if not self._done and self._status is not None:
            self._done = True
            with self._status:
                if self._status.poll() is None:
                    self._status.kill()
                self._status.communicate()

    def _read(self) -> GitInfo | None:
        if self._tree is None:
            return None
        top, remote = self._tree
        cwd = self._cwd
        status = _git_output(self._status)
        if status is None:
            return None
        commit: str | None = None
        branch: str | None = None
        dirty = False
        untracked: list[str] = []
        fields = iter(status.split("\0"))
        for entry in fields:
            if entry.startswith("# branch.oid "):
                commit = entry[len("# branch.oid ") :].strip()
            elif entry.startswith("# branch.head "):
                branch = entry[len("# branch.head ") :].strip()
            elif entry.startswith("? "):
                dirty = True
                untracked.append(entry[2:])
            elif entry and not entry.startswith("#"):
                dirty = True
                if entry.startswith("2 "):
                    next(fields, None)  # a rename's original name
        if not commit or commit == "(initial)":
            return None  # no commits yet
        if branch == "(detached)":
            branch = None

        diff: str | None = None
        if dirty:
            tracked = (
                _git(["diff", "HEAD", "--no-color", "--no-ext-diff", *self._pathspec], cwd) or ""
            )
            diff = tracked + (_untracked_comment(_relative_to_cwd(untracked, top, cwd)) or "")

        return GitInfo(
            commit=commit,
            branch=branch or None,
            dirty=dirty,
            diff=diff,
            remote=_strip_credentials(remote) if remote else None,
        )


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    try:
        return platform.processor() or None
    except Exception:
        return None


def _memory_gb() -> float | None:
    try:
        return round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        return None


def _gpus_from_torch() -> list[dict[str, Any]] | None:
    """GPUs as torch sees them, or None if torch is not imported or has no CUDA."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available():
            return None
        gpus: list[dict[str, Any]] = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append(
                {
                    "name": str(torch.cuda.get_device_name(index)),
                    "memory_mb": int(props.total_memory) // 2**20,
                }
            )
        return gpus
    except Exception:
        return None


#: nvidia-smi's answer, by its path and modification time: a machine's GPUs do not change
#: while a process runs, and asking costs a process (tens of milliseconds with GPUs).
_smi_answers: dict[tuple[str, int], list[dict[str, Any]]] = {}


def _gpus_from_nvidia_smi() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        key = (exe, os.stat(exe).st_mtime_ns)
    except OSError:
        return []
    if key not in _smi_answers:
        _smi_answers[key] = _ask_nvidia_smi(exe)
    return [dict(gpu) for gpu in _smi_answers[key]]


def _ask_nvidia_smi(exe: str) -> list[dict[str, Any]]:
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    gpus: list[dict[str, Any]] = []
    for line in proc.stdout.splitlines():
        name, sep, memory = line.rpartition(",")
        if not sep or not name.strip():
            continue
        try:
            memory_mb: int | None = int(float(memory.strip()))
        except ValueError:
            memory_mb = None
        gpus.append({"name": name.strip(), "memory_mb": memory_mb})
    return gpus


def _gpus() -> list[dict[str, Any]]:
    # Never import torch here: it takes seconds and may initialise CUDA in the parent process.
    from_torch = _gpus_from_torch()
    if from_torch:
        return from_torch
    return _gpus_from_nvidia_smi()


def _name_and_version(dist: Distribution) -> tuple[str | None, str | None]:
    # Reading the two header fields by hand is about twice as fast as ``dist.metadata``, which
    # runs the email parser over the whole file including the long description.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    name = version = None
    if text:
        header = text.partition("\n\n")[0]
        for line in header.splitlines():
            if line.startswith("Name:"):
                name = line[5:].strip() or None
            elif line.startswith("Version:"):
                version = line[8:].strip() or None
            if name and version:
                return name, version
    metadata = dist.metadata
    return metadata["Name"] or name, metadata["Version"] or version


#: (the state of sys.path, the packages found there): reading ~200 METADATA files takes
#: ~6 ms, and a sweep of runs in one process would do it for every run.
_packages: tuple[tuple[Any, ...], dict[str, str]] | None = None


#: The distribution entries (``*.dist-info``, ``*.egg-info``, ``*.egg-link``, ``*.pth``) of
#: each sys.path folder, by folder, with the (inode, mtime) they were listed at: a folder
#: whose time changed (a script's own folder, where it writes its outputs) is listed again,
#: but the packages are read again only when these entries changed.
_listed: dict[str, tuple[tuple[int, int], frozenset[str]]] = {}

_DIST_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")


def _path_state() -> tuple[Any, ...]:
    """sys.path and, for each of its folders, the distributions in it: installing, upgrading
    or removing a package adds or removes a ``*.dist-info`` folder (named with its version)."""
    state: list[Any] = []
    for entry in sys.path:
        try:
            st = os.stat(entry or ".")
        except OSError:
            state.append((entry, None))
            continue
        if not stat.S_ISDIR(st.st_mode):
            state.append((entry, (st.st_ino, st.st_mtime_ns)))  # a zip file
            continue
        folder = os.path.abspath(entry or ".")
        stamp = (st.st_ino, st.st_mtime_ns)
        listed = _listed.get(folder)
        if listed is None or listed[0] != stamp:
            try:
                names = frozenset(n for n in os.listdir(folder) if n.endswith(_DIST_SUFFIXES))
            except OSError:
                names = frozenset()
            if len(_listed) > 256:
                _listed.clear()
            listed = _listed[folder] = (stamp, names)
        state.append((entry, folder, st.st_ino, listed[1]))
    return tuple(state)


def _installed_packages() -> dict[str, str]:
    global _packages
    state = _path_state()
    if _packages is None or _packages[0] != state:
        _packages = (state, _read_installed_packages())
    return dict(_packages[1])


def _read_installed_packages() -> dict[str, str]:
    # Imported here because importlib.metadata (zipfile, email, ...) adds about 0.1 s to the
    # import of this module, which every run pays even when packages are not collected.
    import importlib.metadata

    packages: dict[str, str] = {}
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        try:
            name, version = _name_and_version(dist)
        except Exception:
            continue
        if not name or not version:
            continue
        key = name.lower().replace("_", "-").replace(".", "-")
        # The first distribution found on sys.path is the one ``import`` would use.
        if key in seen:
            continue
        seen.add(key)
        packages[name] = version
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


_fixed: dict[str, Any] | None = None


def _fixed_facts() -> dict[str, Any]:
    """What cannot change while this process runs (its Python, the OS, the CPU), found once:
    ``platform.platform()`` alone reads the interpreter's binary (~2 ms)."""
    global _fixed
    if _fixed is None:
        _fixed = {
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
            },
            "platform": platform.platform(),
            "cpu_model": _cpu_model(),
        }
    return _fixed


def warm_caches(cwd: Path | None = None) -> None:
    """Fill this process's provenance caches (machine facts, installed packages, where the
    git work tree is): the local executor's fork server calls this once, so that each run it
    forks starts with them."""
    _fixed_facts()
    _installed_packages()
    _gpus_from_nvidia_smi()
    _work_tree(cwd)


def collect_environment(*, include_packages: bool = True) -> dict[str, Any]:
    """Describe the Python interpreter, machine, GPUs and installed packages of this process.

    The result is JSON-serialisable. Facts that cannot be found are ``None`` (or ``[]`` for
    ``gpu``); the function does not raise. ``packages`` is left out when ``include_packages`` is
    false.
    """
    gpus = _gpus()
    fixed = _fixed_facts()
    python = dict(fixed["python"])
    # How str and bytes hash (the order of a set of strings): the PYTHONHASHSEED this
    # interpreter started with (None: random). `trialbook reproduce` gives a repeat the same.
    python["hash_seed"] = _START_HASH_SEED
    env: dict[str, Any] = {
        "python": python,
        "platform": fixed["platform"],
        "host": socket.gethostname(),
        "cpu": {"model": fixed["cpu_model"], "count": os.cpu_count()},
        "memory_gb": _memory_gb(),
        "gpu": gpus,
        "device": "cuda" if gpus else "cpu",
    }
    if include_packages:
        env["packages"] = _installed_packages()
    # A store URL on the command line keeps its password out of meta.json.
    env["command"] = [hide_passwords(str(arg)) for arg in sys.argv]
    env["cwd"] = _cwd()
    return env


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's contents, read in ``chunk_size`` pieces.

    Raises OSError if the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _regular_files(root: Path) -> list[tuple[str, Path]]:
    """All regular files under ``root`` as (relative POSIX path, path), sorted by relative path.

    Symlinks to files are followed; symlinked directories are not entered, so a link cycle
    cannot loop forever. FIFOs, sockets and broken links are skipped (reading a FIFO blocks).
    """
    files: list[tuple[str, Path]] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath, filename)
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    continue
            except OSError:
                continue
            files.append((path.relative_to(root).as_posix(), path))
    files.sort(key=lambda item: item[0])
    return files


def path_digest(path: Path) -> tuple[str, int]:
    """Return ``(sha256 hex, size in bytes)`` for a file or a directory.

    A directory's digest covers the sorted relative paths of its regular files and each file's
    SHA-256, so renaming, adding, removing or editing any file changes it; its size is the total
    of its files. Raises :class:`~trialbook.errors.ConfigError` if ``path`` is neither, and
    OSError if a file cannot be read.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path), path.stat().st_size
    if not path.is_dir():
        raise ConfigError(
            f"Cannot digest {str(path)!r}: it is not a file or directory; "
            "pass the path of an existing file or directory.",
            parameter="path",
            value=path,
        )
    digest = hashlib.sha256()
    total = 0
    for relative, file in _regular_files(path):
        digest.update(relative.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
        digest.update(sha256_file(file).encode("ascii"))
        digest.update(b"\n")
        total += file.stat().st_size
    return digest.hexdigest(), total


def count_rows(path: Path) -> int | None:
    """Count the records in a .jsonl, .csv, .tsv or .txt file; None for anything else.

    Rows are lines (a last line without a trailing newline counts), minus one header line for
    .csv and .tsv. A quoted CSV field spanning several lines is counted once per line: exact CSV
    parsing is many times slower and this count is informational.
    """
    path = Path(path)
    if path.suffix.lower() not in _ROW_COUNTED_SUFFIXES or not path.is_file():
        return None
    lines = 0
    last = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    if path.suffix.lower() in _HEADER_SUFFIXES:
        return max(lines - 1, 0)
    return lines
