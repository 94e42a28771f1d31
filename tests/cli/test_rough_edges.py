"""The rough edges a student met on a fresh clone, each pinned by a test (issue 20): the
runaway warning, resuming a sweep with its defaults spelled out, option guesses that are only
offered when close, graph's default loss per model, and train's summary line for Adam."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tinygrad_lc import cli
from tinygrad_lc.models.training import RUNAWAY_FACTOR, runaway_warning


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err


# ------------------------------------------------------------------ a loss that runs away
def test_runaway_training_warns_names_the_lr_and_records_it(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "--lr", "10", "--out", str(tmp_path), "--quiet")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert rc == 0  # the loss stayed finite: a warning, not an error
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "lower --lr (now 10)" in lines[0], err
    assert metrics["warnings"] == lines
    assert max(metrics["loss_history"]) > RUNAWAY_FACTOR * metrics["loss_history"][0]


def test_a_good_run_has_no_warning(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "--out", str(tmp_path), "--quiet")
    assert rc == 0 and "warning" not in err
    assert json.loads((tmp_path / "metrics.json").read_text())["warnings"] == []


@pytest.mark.parametrize("history, runs_away", [
    ([1.0, 0.5, 0.1], False),
    ([1.0, 99.0, 0.5], False),  # a spike below the factor that comes back down
    ([1.0, 101.0, 0.5], True),  # above the factor, even if it comes back
    ([1.0, 0.5, 1.01], True),  # ends above where it started
    ([1.0], False),
    ([], False),
])
def test_runaway_rule(history, runs_away):
    assert (runaway_warning(history, lr=0.1) is not None) == runs_away


# ------------------------------------------------------------------ sweep --resume
def test_a_sweep_resumes_when_a_default_is_spelled_out(capsys, tmp_path):
    out = tmp_path / "d"
    common = ["sweep", "--dataset", "blobs", "--trials", "2", "--refine", "0", "--out",
              str(out), "--quiet"]
    assert run(capsys, *common)[0] == 0
    log = (out / "trials.jsonl").read_bytes()
    rc, _, err = run(capsys, *common, "--loss", "svm", "--resume")
    assert rc == 0, err
    assert (out / "trials.jsonl").read_bytes() == log  # nothing was run again
    # another loss is another sweep: still refused
    rc, _, err = run(capsys, *common, "--loss", "softmax", "--resume")
    assert rc == 2 and "written by another sweep" in err


# ------------------------------------------------------------------ option guesses
def test_an_option_of_another_command_is_named_not_guessed(capsys):
    err = usage_error(capsys, "graph", "--quiet")
    assert "did you mean" not in err
    assert "--quiet is an option of demo, train and sweep only" in err


def test_a_far_word_gets_no_guess_and_a_near_one_does(capsys):
    assert "did you mean" not in usage_error(capsys, "gradcheck", "--verbose")
    assert "(did you mean --quiet?)" in usage_error(capsys, "train", "--quite")


# ------------------------------------------------------------------ consistency
def test_graph_of_the_mlp_draws_trains_default_loss(capsys, tmp_path):
    path = tmp_path / "g.dot"
    assert run(capsys, "graph", "--model", "mlp", "-o", str(path))[0] == 0
    source = path.read_text()
    assert "softmax" in source and "svm" not in source
    assert run(capsys, "graph", "-o", str(path))[0] == 0
    assert "svm" in path.read_text()


def test_the_mlp_run_names_adam_not_momentum(capsys, tmp_path):
    rc, out, _ = run(capsys, "train", "--model", "mlp", "--dataset", "blobs", "--iters", "5",
                     "--out", str(tmp_path))
    summary = next(line for line in out.splitlines() if line.startswith("softmax loss"))
    assert rc == 0 and "momentum" not in summary and "adam" in summary, summary
    rc, out, _ = run(capsys, "train", "--dataset", "blobs", "--iters", "5", "--out",
                     str(Path(tmp_path) / "lin"))
    assert "momentum 0," in out


# ------------------------------------------------------------------ the docs' own words
ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_documentation_list_links_every_page():
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", section))
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages - linked == set(), "add these pages to the README's Documentation list"


def test_the_docs_speak_to_users_not_to_the_tracker():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = page.read_text("utf-8")
        assert not re.search(r"\bthe issue's\b", text), page.name
