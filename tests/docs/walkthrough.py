"""The documentation walkthrough: every shell command of README.md and the docs pages, read in
the order a new user meets them, and the declared, reviewed table of what the test changes.

A command is a line of a ```bash block (a trailing ``\\`` joins the next line; ``NAME=value``
lines set a variable for the commands after them) or a ``$ ``-line of a ```console block, whose
following lines are the output the page shows. A ```python block that is a complete program
(it starts with an import) is one command too, run with the venv's python; the ``# ...`` lines
that end it are the output it shows. Python blocks of the pages in PYTHON_ELSEWHERE are run by
their area's tests instead, in their own workspaces, and those in PYTHON_NOT_RUN are sketches.
A command is expected to exit 0, except:

- a ```console command whose shown output starts with ``error:`` (a documented refusal: exit 2);
- a command carrying the comment ``# exits N`` (N its documented status).

Everything the test does differently from the pages is in the tables below, each entry with
its reason: TINY (the same command on tiny settings), NOT_RUN (a command that cannot run on a
test machine, or whose data the page does not create), PLACEHOLDERS (an id a page writes as an
example, replaced by a run of the same kind) and NO_NUMBERS (output whose numbers are not
expected to repeat). A table entry that no page holds any more fails the test (stale_entries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: The order of the walkthrough: the README, then the docs pages in the order of the README's
#: Documentation list (the GSM8K example's page, which the README's example table links,
#: comes right after the README, as the table comes before that list).
PAGES = (
    "README.md",
    "examples/gsm8k/README.md",
    "docs/tracking.md",
    "docs/workspace.md",
    "docs/configs.md",
    "docs/runner.md",
    "docs/evaluation.md",
    "docs/metrics.md",
    "docs/models.md",
    "docs/analysis.md",
    "docs/reports.md",
    "docs/cartography.md",
    "docs/reproducibility.md",
    "docs/experiments-directory.md",
    "docs/arithmetic.md",
    "docs/demo.md",
    "docs/cli.md",
)

_ARITH = "--train-size 120 --test-size 30 --epochs 1 --hidden-dim 32"
_CLINC = "--max-intents 10 --epochs 2"

#: A documented command -> the command the walkthrough runs instead (tiny data, fewer epochs).
TINY: dict[str, str] = {
    "make demo": ".venv/bin/python examples/demo/run_demo.py --tiny",
    ".venv/bin/trialbook run $F --suite data": f".venv/bin/trialbook run $F --suite data {_ARITH}",
    # The three seeds two at a time, as the page's all-at-once command runs them: each seed's
    # training reads the data of step 1 and writes only its own folders.
    ".venv/bin/trialbook run $F --suite token_only": (
        f".venv/bin/trialbook run $F --suite token_only --jobs 2 {_ARITH}"
    ),
    ".venv/bin/trialbook run $F --suite hybrid": (
        f".venv/bin/trialbook run $F --suite hybrid --jobs 2 {_ARITH}"
    ),
    ".venv/bin/trialbook run $F --suite evaluate": (
        f".venv/bin/trialbook run $F --suite evaluate {_ARITH}"
    ),
    ".venv/bin/trialbook run examples/arithmetic/configs/arithmetic_small.yaml --seeds 1 2 3 "
    "--jobs 2": (
        ".venv/bin/trialbook run examples/arithmetic/configs/arithmetic_small.yaml --seeds 1 2 3 "
        f"--jobs 2 {_ARITH}"
    ),
    "trialbook run examples/cartography/cartography.yaml --suite clean": (
        f"trialbook run examples/cartography/cartography.yaml --suite clean {_CLINC}"
    ),
    "trialbook run examples/cartography/suite.yaml --suite minimal": (
        f"trialbook run examples/cartography/suite.yaml --suite minimal {_CLINC}"
    ),
    "trialbook run examples/configs/suite.yaml --suite sample --seeds 42 43 44": (
        "trialbook run examples/configs/suite.yaml --suite sample --seeds 42 "
        "--max-train-samples 500 --jobs 2"
    ),
    "trialbook run examples/cartography/baselines.yaml --seeds 42 43 44 --jobs 2": (
        f"trialbook run examples/cartography/baselines.yaml --seeds 42 --jobs 2 {_CLINC}"
    ),
    "trialbook run examples/configs/suite.yaml --suite minimal --seeds 42 43 44 --jobs 2": (
        "trialbook run examples/configs/suite.yaml --suite minimal --seeds 42 43 44 --jobs 2 "
        "--max-train-samples 500"
    ),
    "trialbook run examples/cartography/suite.yaml --suite sample --seeds 42 43 44 --jobs 2": (
        # two seeds: the page's significance line compares seed groups (Welch), as with three
        "trialbook run examples/cartography/suite.yaml --suite sample --seeds 42 43 --jobs 2 "
        f"{_CLINC}"
    ),
}

#: A documented command the walkthrough does not run -> why.
NOT_RUN: dict[str, str] = {
    "make test": "runs the whole test suite, this test included",
    "export OPENAI_API_KEY=sk-...": "a secret of the reader's",
}

#: A command at one place of one page (the same command runs elsewhere) -> why it is not run.
NOT_RUN_AT: dict[tuple[str, str], str] = {
    ("docs/cartography.md", "trialbook run examples/cartography/suite.yaml --suite minimal"): (
        "shows the error of skipping the cartography step, which the walkthrough ran; "
        "tests/examples/test_cartography_example.py checks that error"
    ),
    ("docs/cartography.md", "trialbook run examples/cartography/suite.yaml --suite sample"): (
        "shows the error of skipping the cluster step, which the walkthrough ran; "
        "tests/examples/test_cartography_example.py checks that error"
    ),
    ("docs/demo.md", "make demo"): (
        "the README's first command again (it resumes); tests/examples/test_demo.py runs the demo"
    ),
    ("docs/demo.md", ".venv/bin/python examples/demo/run_demo.py --tiny"): (
        "the README's first command again (it resumes); tests/examples/test_demo.py runs it "
        "twice (test_demo_runs_end_to_end_then_resumes)"
    ),
    ("docs/demo.md", ".venv/bin/python examples/demo/run_demo.py --root /tmp/demo --jobs 1"): (
        "the same demo in another folder (~20 s); tests/examples/test_demo.py runs it with --root"
    ),
    ("docs/analysis.md", "trialbook ls --by group --sort loss"): (
        "lists the workspace the page's Python example builds; "
        "tests/analysis/test_significance_docs.py runs it there"
    ),
}

#: Documented commands whose model or data only the reader has (a server, a checkpoint, their
#: own file or folder), by a pattern of their text.
NOT_RUN_PATTERNS: dict[str, str] = {
    r"openai:http": "needs an OpenAI-compatible server",
    r"hf:checkpoints/": "needs a Hugging Face checkpoint",
    r"python:mymodels?:answer": "the reader's own model function",
    r"^pip install ": "installs packages",
    r"trialbook run configs/": "the reader's own config folder",
    r"qa\.jsonl": "the reader's own data file",
    r"bigger-lr|group:9c1e|^trialbook significance baseline@1 ": (
        "runs the page's Python example creates in its own workspace; "
        "tests/analysis/test_significance_docs.py and tests/reporting/test_report_docs.py run "
        "them there"
    ),
    r"^trialbook report RUN ": "a syntax line (RUN stands for a run)",
    r"^trialbook ui\b|^trialbook ls .*--watch": (
        "serves or redraws until Ctrl-C; tests/cli/test_cli_ui.py runs them as processes and "
        "interrupts them"
    ),
    r"--executor slurm|^python -m trialbook\.testing\.slurm": (
        "needs a Slurm cluster (the test cluster serves until Ctrl-C); "
        "tests/execution/test_slurm_runner.py, tests/cli/test_cli_slurm.py and "
        "tests/execution/test_executors_agree.py run them on the session's real cluster"
    ),
    r"--executor ray|^ray start": (
        "starts or joins a Ray cluster (--address auto, 10.0.0.5, ray:// are the reader's); "
        "tests/execution/test_ray_cli.py, tests/execution/test_ray_client.py (through a Ray "
        "Client server) and tests/execution/test_executors_agree.py run them on the session's "
        "local Ray"
    ),
    r"--root /tmp/arith-ws|--root /tmp/units-ws": (
        "the full-size arithmetic and units runs (minutes); tests/examples runs them on tiny "
        "settings"
    ),
}

#: Pages whose Python blocks their area's tests run, in order, in a workspace of their own (the
#: blocks build runs named as the page needs: baseline, bigger-lr, ...) -> the test.
PYTHON_ELSEWHERE: dict[str, str] = {
    "docs/analysis.md": "tests/analysis/test_significance_docs.py",
    "docs/reports.md": "tests/reporting/test_report_docs.py",
    "docs/evaluation.md": "tests/evaluation/test_eval_docs.py",
    "docs/metrics.md": "tests/evaluation/test_eval_metrics_docs.py",
    "docs/models.md": "tests/evaluation/test_eval_models_docs.py",
    "docs/configs.md": "tests/config/test_config_docs.py",
    "docs/cartography.md": "tests/cartography/test_carto_docs.py",
}

#: A Python block that starts with an import but is a sketch (page, its first line) -> why.
PYTHON_NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "import trialbook"): "a sketch: train_step(), samples and save_model are yours",
}

#: A command (page, text as the page shows it) that works in a workspace of its own and writes
#: nothing any later command reads -> that workspace. It runs beside the commands after it.
OWN_WORKSPACE: dict[tuple[str, str], str] = {
    ("README.md", "make demo"): "demo-workspace-tiny",
}

#: A run id a page writes as an example -> the run the walkthrough puts in its place, as
#: ``trialbook ls`` filter options (the newest matching run).
PLACEHOLDERS: dict[str, str] = {
    "a1b2c3": "-e baseline --seed 42 -t cartography-demo",
    "3f9c2a": "-e baseline --seed 43 -t cartography-demo",
    "9fbcd2": "-e label_smoothing --seed 43",
}

#: A documented command whose shown output has numbers that are not expected to repeat -> why.
NO_NUMBERS: dict[str, str] = {
    "trialbook ls --by group": (
        "the page shows a workspace of the summarization runs alone; in the walkthrough's one "
        "workspace every experiment's metrics are columns too"
    ),
    "trialbook leaderboard --benchmark gsm8k --by group": (
        "shows the workspace of the page's Python example"
    ),
    "head -n 2 experiments/results/metrics/runs.csv": "the row holds the run's duration",
}


@dataclass
class Command:
    page: str
    line: int
    text: str  # as the page shows it (continuations joined, comment removed)
    expected_exit: int = 0
    output: list[str] = field(default_factory=list)  # what a console block shows after it
    console: bool = False
    python: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


_EXITS = re.compile(r"#\s*exits\s+(\d+)")


def _strip_comment(line: str) -> tuple[str, int | None]:
    """The command without its trailing ``# ...`` comment, and the status ``# exits N`` names."""
    status = None
    m = _EXITS.search(line)
    if m:
        status = int(m.group(1))
    # A '#' after whitespace, outside quotes, starts a comment.
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), status
    return line.rstrip(), status


def commands(page: str) -> list[Command]:
    """The shell commands of one page, in order."""
    lines = (REPO / page).read_text(encoding="utf-8").splitlines()
    found: list[Command] = []
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if fence == "```python":
            start = i + 1
            i += 1
            body: list[str] = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            i += 1
            if body and body[0].startswith(("import ", "from ")):
                code = "\n".join(body)
                # the comment lines that end the block: the output it shows
                shown: list[str] = []
                for line in reversed(body):
                    if not line.startswith("# "):
                        break
                    shown.insert(0, line[2:])
                found.append(Command(page, start + 1, code, output=shown, python=True))
            continue
        if fence not in ("```bash", "```console"):
            i += 1
            continue
        console = fence == "```console"
        i += 1
        current: Command | None = None
        while i < len(lines) and lines[i].strip() != "```":
            raw, number = lines[i], i + 1
            i += 1
            if console and not raw.startswith("$ "):
                if current is not None:
                    current.output.append(raw)
                continue
            text = raw[2:] if console else raw
            while text.rstrip().endswith("\\") and i < len(lines):
                text = text.rstrip()[:-1].rstrip() + " " + lines[i].strip()
                i += 1
            text, status = _strip_comment(text.strip())
            if not text:
                continue
            current = Command(page, number, text, status or 0, console=console)
            found.append(current)
        i += 1
    for c in found:
        if c.console and c.output and c.output[0].startswith("error:") and c.expected_exit == 0:
            c.expected_exit = 2
    return found


def all_commands() -> list[Command]:
    return [c for page in PAGES for c in commands(page)]


def not_run_reason(text: str, page: str = "", python: bool = False) -> str | None:
    if python:
        if page in PYTHON_ELSEWHERE:
            return f"run by {PYTHON_ELSEWHERE[page]}"
        return PYTHON_NOT_RUN.get((page, text.splitlines()[0]))
    if (page, text) in NOT_RUN_AT:
        return NOT_RUN_AT[(page, text)]
    if text in NOT_RUN:
        return NOT_RUN[text]
    for pattern, reason in NOT_RUN_PATTERNS.items():
        if re.search(pattern, text):
            return reason
    return None


#: trialbook commands that only read the workspace: consecutive ones may run side by side.
READ_ONLY = (
    "ls",
    "show",
    "stats",
    "benchmarks",
    "leaderboard",
    "compare",
    "significance",
    "tail",
    "export",
)
#: What makes a command write after all: an output file option, a redirection, another
#: command after it, a substitution.
_WRITES = re.compile(r"(^|\s)(--out|--output|--out-dir|-o)(\s|=|$)|[>;&|$`]")


def reads_only(text: str) -> bool:
    """Whether the shell line ``text`` is one trialbook command that only reads the workspace
    (see READ_ONLY) and writes no file."""
    words = text.split()
    return (
        len(words) > 1
        and words[0].endswith("trialbook")
        and words[1] in READ_ONLY
        and not _WRITES.search(text)
    )


#: A number as tables print metric values: at least 3 decimals, not part of a word, a date, a
#: time or a version.
_NUMBER = re.compile(r"(?<![\w:.\-])-?\d+\.\d{3,}(?![\w.])")


def documented_numbers(command: Command) -> list[str]:
    """The metric values the page shows in ``command``'s output ("..." lines cut output)."""
    if command.text in NO_NUMBERS or command.text in TINY:
        return []
    return [n for line in command.output for n in _NUMBER.findall(line)]


def stale_entries() -> list[str]:
    """Table entries that no page's command uses any more."""
    texts = [c.text for c in all_commands() if not c.python]
    stale = [f"TINY[{k!r}]" for k in TINY if k not in texts]
    stale += [f"NOT_RUN[{k!r}]" for k in NOT_RUN if k not in texts]
    stale += [f"NO_NUMBERS[{k!r}]" for k in NO_NUMBERS if k not in texts]
    at = {(c.page, c.text) for c in all_commands()}
    stale += [f"NOT_RUN_AT[{k!r}]" for k in NOT_RUN_AT if k not in at]
    stale += [f"OWN_WORKSPACE[{k!r}]" for k in OWN_WORKSPACE if k not in at]
    firsts = {(c.page, c.text.splitlines()[0]) for c in all_commands() if c.python}
    stale += [f"PYTHON_NOT_RUN[{k!r}]" for k in PYTHON_NOT_RUN if k not in firsts]
    stale += [f"PYTHON_ELSEWHERE[{k!r}]" for k in PYTHON_ELSEWHERE if k not in PAGES]
    stale += [
        f"NOT_RUN_PATTERNS[{k!r}]"
        for k in NOT_RUN_PATTERNS
        if not any(re.search(k, t) for t in texts)
    ]
    stale += [f"PLACEHOLDERS[{k!r}]" for k in PLACEHOLDERS if not any(k in t for t in texts)]
    return stale
