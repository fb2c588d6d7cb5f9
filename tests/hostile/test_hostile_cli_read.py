"""Hostile input to the reading commands (ls, show, compare, significance, leaderboard, stats,
export, report, analyze, benchmarks, db): one ``error:`` line, exit 2, nothing written."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostile_helpers import HUGE, Case, CliCase, c, check_cli_case, params

W = ("--root", "{ws}")

LS = [
    c("ls-status-typo", "ls", *W, "--status", "finished", names=["finished"]),
    c("ls-status-prefix", "ls", *W, "--status", "complete", names=["complete"]),
    c("ls-status-empty-in-list", "ls", *W, "--status", "completed,,bogus", names=["bogus"]),
    c("ls-where-double-op", "ls", *W, "--where", "loss<<0.5", names=["loss<<0.5"]),
    c("ls-where-no-op", "ls", *W, "--where", "loss", names=["loss"]),
    c("ls-where-no-key", "ls", *W, "--where", "=1", names=["=1"]),
    c("ls-where-unclosed-paren", "ls", *W, "--where", "min(loss<0.5", names=["min(loss"]),
    c("ls-where-unknown-function", "ls", *W, "--where", "avg(loss)<0.5", names=["avg"]),
    c("ls-where-empty", "ls", *W, "--where", "", names=[]),
    c("ls-where-text-order", "ls", *W, "--where", "loss<abc", names=["abc"]),
    c("ls-sort-typo", "ls", *W, "--sort", "nme", names=["nme"]),
    c("ls-sort-empty", "ls", *W, "--sort", "", names=["''"]),
    c("ls-sort-unclosed-paren", "ls", *W, "--sort", "min(loss", names=["min(loss"]),
    c("ls-sort-unknown-function", "ls", *W, "--sort", "mean(loss)", names=["mean"]),
    c("ls-by-typo", "ls", *W, "--by", "grp", names=["grp"]),
    c("ls-ci-typo", "ls", *W, "--by", "group", "--ci", "boot", names=["boot"]),
    c("ls-level-above-one", "ls", *W, "--by", "group", "--level", "1.5", names=["1.5"]),
    c("ls-level-zero", "ls", *W, "--by", "group", "--level", "0", names=["0"]),
    c("ls-level-negative", "ls", *W, "--by", "group", "--level", "-0.5", names=["-0.5"]),
    c("ls-level-nan", "ls", *W, "--by", "group", "--level", "nan", names=["nan"]),
    c("ls-level-inf", "ls", *W, "--by", "group", "--level", "inf", names=["inf"]),
    c("ls-limit-zero", "ls", *W, "--limit", "0", names=["0"]),
    c("ls-limit-negative", "ls", *W, "--limit", "-1", names=["-1"]),
    c("ls-limit-text", "ls", *W, "--limit", "ten", names=["ten"]),
    c("ls-limit-beyond-64-bits", "ls", *W, "--limit", HUGE, names=[HUGE]),
    c("ls-seed-beyond-64-bits", "ls", *W, "--seed", HUGE, names=[HUGE]),
    c("ls-option-typo", "ls", *W, "--limt", "3", names=["--limt"]),
    c("ls-json-with-garbage-arg", "ls", *W, "extra", names=["extra"]),
    c("ls-experiment-typo", "ls", *W, "--experiment", "basline", names=["basline"]),
]

SHOW = [
    c("show-unknown-run", "show", *W, "nosuchrun", names=["nosuchrun"]),
    c("show-ambiguous-prefix", "show", *W, "2026", names=["2026"]),
    c("show-empty-ref", "show", *W, "", names=[]),
    c("show-glob-ref", "show", *W, "*", names=["*"]),
    c("show-short-id-typo", "show", *W, "zzzzzz", names=["zzzzzz"]),
    c("show-id-beyond-64-bits", "show", *W, HUGE, names=[HUGE]),
    c("show-no-argument", "show", *W, names=["RUN"]),
    c("show-control-chars-ref", "show", *W, "a\nb\x1b[31m", names=[]),
]

COMPARE = [
    c("compare-one-ref", "compare", *W, "alpha", names=["two"]),
    c("compare-unknown-second", "compare", *W, "alpha", "nosuch", names=["nosuch"]),
    c("compare-unknown-group", "compare", *W, "alpha", "group:ffffffff", names=["ffffffff"]),
    c("compare-empty-group", "compare", *W, "alpha", "group:", names=["group:"]),
    c("compare-same-run-twice", "compare", *W, "alpha", "alpha", names=["alpha"]),
    c("compare-same-run-by-name-and-id", "compare", *W, "alpha", "{alpha}", names=["alpha"]),
    c("compare-ambiguous-prefix", "compare", *W, "alpha", "2026", names=["2026"]),
]

SIGNIFICANCE = [
    c("sig-one-ref", "significance", *W, "alpha", names=["two"]),
    c("sig-unknown-ref", "significance", *W, "alpha", "nosuch", names=["nosuch"]),
    c("sig-same-run-twice", "significance", *W, "alpha", "alpha", names=["alpha"]),
    c("sig-test-typo", "significance", *W, "alpha", "beta", "--test", "ttest", names=["ttest"]),
    c(
        "sig-metric-typo",
        "significance",
        *W,
        "alpha",
        "beta",
        "--metric",
        "acuracy",
        names=["acuracy"],
    ),
    c(
        "sig-benchmark-typo",
        "significance",
        *W,
        "alpha",
        "beta",
        "--benchmark",
        "gsm8kk",
        names=["gsm8kk"],
    ),
    c(
        "sig-resamples-zero",
        "significance",
        *W,
        "alpha",
        "beta",
        "--test",
        "bootstrap",
        "--resamples",
        "0",
        names=["0"],
    ),
    c(
        "sig-resamples-negative",
        "significance",
        *W,
        "alpha",
        "beta",
        "--test",
        "bootstrap",
        "--resamples",
        "-5",
        names=["-5"],
    ),
    c(
        "sig-resamples-beyond-64-bits",
        "significance",
        *W,
        "alpha",
        "beta",
        "--test",
        "bootstrap",
        "--resamples",
        HUGE,
        names=[HUGE],
    ),
    c(
        "sig-seed-negative",
        "significance",
        *W,
        "alpha",
        "beta",
        "--test",
        "bootstrap",
        "--seed",
        "-1",
        names=["-1"],
    ),
    c(
        "sig-welch-on-single-runs",
        "significance",
        *W,
        "alpha",
        "beta",
        "--test",
        "welch",
        names=["Welch", "alpha"],
    ),
]

LEADERBOARD = [
    c(
        "lb-metric-typo",
        "leaderboard",
        *W,
        "--benchmark",
        "gsm8k",
        "--metric",
        "acuracy",
        names=["acuracy"],
    ),
    c("lb-training-metric-typo", "leaderboard", *W, "--metric", "los", names=["los"]),
    c("lb-benchmark-typo", "leaderboard", *W, "--benchmark", "gsm8kk", names=["gsm8kk"]),
    c("lb-top-zero", "leaderboard", *W, "--benchmark", "gsm8k", "--top", "0", names=["0"]),
    c("lb-top-negative", "leaderboard", *W, "--benchmark", "gsm8k", "--top", "-3", names=["-3"]),
    c("lb-by-typo", "leaderboard", *W, "--benchmark", "gsm8k", "--by", "seed", names=["seed"]),
    c(
        "lb-experiment-typo",
        "leaderboard",
        *W,
        "--benchmark",
        "gsm8k",
        "--experiment",
        "basline",
        names=["basline"],
    ),
    c("lb-seed-negative", "leaderboard", *W, "--benchmark", "gsm8k", "--seed", "-1", names=["-1"]),
]

EXPORT = [
    c("export-no-run-no-all", "export", *W, names=["--all"]),
    c("export-unknown-run", "export", *W, "nosuch", names=["nosuch"]),
    c("export-ambiguous-prefix", "export", *W, "2026", names=["2026"]),
    c("export-format-typo", "export", *W, "alpha", "--format", "xml", names=["xml"]),
    c("export-parquet-to-stdout", "export", *W, "alpha", "--format", "parquet", names=["--output"]),
    c(
        "export-out-under-a-file",
        "export",
        *W,
        "alpha",
        "-o",
        "{tmp}/plain.txt/out.json",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
    c(
        "export-out-is-a-folder",
        "export",
        *W,
        "alpha",
        "-o",
        "{tmp}/outdir",
        names=["{tmp}/outdir"],
        files={"outdir/keep": ""},
    ),
    c(
        "export-samples-and-metrics",
        "export",
        *W,
        "alpha",
        "--samples",
        "--metrics",
        names=["--samples"],
    ),
    c("export-experiment-typo", "export", *W, "--experiment", "basline", names=["basline"]),
    c("export-run-and-all", "export", *W, "alpha", "--all", names=["--all"]),
]

REPORT = [
    c("report-unknown-run", "report", *W, "nosuch", "-o", "{tmp}/r.html", names=["nosuch"]),
    c(
        "report-format-typo",
        "report",
        *W,
        "alpha",
        "--format",
        "pdf",
        "-o",
        "{tmp}/r.pdf",
        names=["pdf"],
    ),
    c(
        "report-out-under-a-file",
        "report",
        *W,
        "alpha",
        "-o",
        "{tmp}/plain.txt/r.html",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
    c(
        "report-out-is-a-folder",
        "report",
        *W,
        "alpha",
        "-o",
        "{tmp}/outdir",
        names=["{tmp}/outdir"],
        files={"outdir/keep": ""},
    ),
    c(
        "report-metric-typo",
        "report",
        *W,
        "alpha",
        "beta",
        "--metric",
        "acuracy",
        "-o",
        "{tmp}/r.html",
        names=["acuracy"],
    ),
    c(
        "report-same-run-twice",
        "report",
        *W,
        "alpha",
        "alpha",
        "-o",
        "{tmp}/r.html",
        names=["alpha"],
    ),
    c(
        "report-second-unknown",
        "report",
        *W,
        "alpha",
        "nosuch",
        "-o",
        "{tmp}/r.html",
        names=["nosuch"],
    ),
]

ANALYZE = [
    c("analyze-ci-typo", "analyze", *W, "--ci", "boot", names=["boot"]),
    c(
        "analyze-metric-typo",
        "analyze",
        *W,
        "--metric",
        "acuracy",
        "--out-dir",
        "{tmp}/out",
        names=["acuracy"],
    ),
    c(
        "analyze-experiment-typo",
        "analyze",
        *W,
        "--experiment",
        "basline",
        "--out-dir",
        "{tmp}/out",
        names=["basline"],
    ),
    c(
        "analyze-out-dir-is-a-file",
        "analyze",
        *W,
        "--out-dir",
        "{tmp}/plain.txt",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
    c(
        "analyze-out-dir-under-a-file",
        "analyze",
        *W,
        "--out-dir",
        "{tmp}/plain.txt/sub",
        names=["{tmp}/plain.txt"],
        files={"plain.txt": "x"},
    ),
]

OTHER = [
    c("unknown-command", "lss", names=["lss"]),
    c("benchmarks-option-typo", "benchmarks", "--jsn", names=["--jsn"]),
    c("db-unknown-subcommand", "db", "frobnicate", names=["frobnicate"]),
    c("stats-option-typo", "stats", *W, "--jsno", names=["--jsno"]),
    c("reproduce-unknown-run", "reproduce", *W, "nosuch", names=["nosuch"]),
    c("reproduce-tracked-run-without-entrypoint", "reproduce", *W, "alpha", names=["alpha"]),
    c(
        "reproduce-tolerance-negative",
        "reproduce",
        *W,
        "alpha",
        "--check",
        "--tolerance",
        "-1",
        names=["-1"],
    ),
    c(
        "reproduce-tolerance-nan",
        "reproduce",
        *W,
        "alpha",
        "--check",
        "--tolerance",
        "nan",
        names=["nan"],
    ),
    c("reproduce-timeout-negative", "reproduce", *W, "scripted", "--timeout", "-5", names=["-5"]),
    c("reproduce-timeout-nan", "reproduce", *W, "scripted", "--timeout", "nan", names=["nan"]),
    c("reproduce-timeout-zero", "reproduce", *W, "scripted", "--timeout", "0", names=["0"]),
]


def run_file(name: str, text: str | None) -> Callable[[Case], object]:
    """Damage (or remove, when ``text`` is None) a file of the scripted run's folder."""

    def damage(case: Case) -> None:
        path = next(case.ws.glob(f"scripted_*/{name}"))
        if text is None:
            path.unlink()
        else:
            path.write_text(text, encoding="utf-8")

    return damage


DAMAGED_FOLDER = [
    c(
        "reproduce-config-yaml-garbage",
        "reproduce",
        *W,
        "scripted",
        names=["config.yaml"],
        prepare=run_file("config.yaml", "a: [1\n"),
    ),
    c(
        "reproduce-config-yaml-missing",
        "reproduce",
        *W,
        "scripted",
        names=["config.yaml"],
        prepare=run_file("config.yaml", None),
    ),
    c(
        "reproduce-config-yaml-without-command",
        "reproduce",
        *W,
        "scripted",
        names=["config.yaml"],
        prepare=run_file("config.yaml", "seed: 5\nlr: 0.1\n"),
    ),
    c(
        "reproduce-config-yaml-is-a-list",
        "reproduce",
        *W,
        "scripted",
        names=["config.yaml"],
        prepare=run_file("config.yaml", "- 1\n"),
    ),
]

CASES = (
    DAMAGED_FOLDER
    + LS
    + SHOW
    + COMPARE
    + SIGNIFICANCE
    + LEADERBOARD
    + EXPORT
    + REPORT
    + ANALYZE
    + OTHER
)


@pytest.mark.parametrize("x", params(CASES))
def test_reading_command_refuses_hostile_input_in_one_line(case: Case, x: CliCase) -> None:
    check_cli_case(case, x)
