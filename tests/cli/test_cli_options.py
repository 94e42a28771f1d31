"""One vocabulary across the sub-commands (tinygrad_lc/cli/options.py and cli/program.py):
the same regularization options everywhere, --version, no abbreviations, and unknown options
answered by the sub-command that got them, with a did-you-mean."""

from __future__ import annotations

import argparse

import pytest

import tinygrad_lc as tg
from tinygrad_lc import cli, viz
from tinygrad_lc.cli.lecture import lecture_loss

REGULARIZED = ("train", "gradcheck", "graph")  # the commands whose loss has a R(W)


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def option(parser: argparse.ArgumentParser, name: str) -> argparse.Action:
    return next(a for a in parser._actions if name in a.option_strings)


def usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(list(argv))
    assert info.value.code == 2
    return capsys.readouterr().err


def test_every_regularized_command_has_trains_names_and_defaults():
    parsers = subparsers()
    for name in REGULARIZED:
        p = parsers[name]
        assert tuple(option(p, "--regularizer").choices) == tg.regularizers.REGULARIZERS
        assert option(p, "--regularizer").default == "l2"
        assert option(p, "--reg").metavar == "STRENGTH"
        assert option(p, "--beta").default == 1.0, name
        for gone in ("--reg-strength",):
            assert not any(gone in a.option_strings for a in p._actions)
    # one definition: the same help and type objects in every command
    for flag in ("--regularizer", "--beta"):
        helps = {option(parsers[n], flag).help for n in REGULARIZED}
        types = {option(parsers[n], flag).type for n in REGULARIZED}
        assert len(helps) == 1 and len(types) == 1, flag
    assert len({option(parsers[n], "--reg").type for n in REGULARIZED}) == 1


def test_graph_takes_trains_options(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "--regularizer", "elastic_net", "--reg", "0.5", "--beta", "2",
                     "-o", str(out)]) == 0
    assert "elastic_net" in out.read_text()
    err = usage_error(capsys, "graph", "--reg", "l1")
    assert "the regularizer's name goes to --regularizer (--regularizer l1)" in err
    err = usage_error(capsys, "graph", "--reg-strength", "0.1")
    assert "(did you mean --reg?)" in err


def test_the_default_beta_is_the_same_in_the_functions_the_commands_call():
    a = lecture_loss("svm", "elastic_net", 1.0).item()
    assert a == lecture_loss("svm", "elastic_net", 1.0, beta=1.0).item()
    assert a != lecture_loss("svm", "elastic_net", 1.0, beta=0.5).item()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"tinygrad-lc {tg.__version__}\n"


@pytest.mark.parametrize("command, abbreviation", [
    ("train", "--data"), ("train", "--batch"), ("gradcheck", "--num"), ("graph", "--max"),
    ("demo", "--search"),
])
def test_abbreviations_are_refused(capsys, command, abbreviation):
    err = usage_error(capsys, command, abbreviation, "1")
    assert f"unrecognized arguments: {abbreviation} 1" in err
    assert all(not p.allow_abbrev for p in [cli.build_parser(), *subparsers().values()])


@pytest.mark.parametrize("argv, said", [
    (["train", "--datset", "digits"], "unrecognized arguments: --datset digits (did you mean "
                                      "--dataset?)"),
    (["train", "--itres=5"], "unrecognized arguments: --itres=5 (did you mean --iters?)"),
    (["gradcheck", "--regulariser", "l1"], "(did you mean --regularizer?)"),
    (["graph", "--colapse"], "(did you mean --collapse?)"),
    (["demo", "--sead", "1"], "(did you mean --seed?)"),
])
def test_an_unknown_option_shows_its_commands_usage_and_a_guess(capsys, argv, said):
    err = usage_error(capsys, *argv)
    assert err.startswith(f"usage: tinygrad-lc {argv[0]} ")
    assert f"tinygrad-lc {argv[0]}: error: " in err and said in err


def test_unknown_words_without_a_near_option_get_no_guess(capsys):
    err = usage_error(capsys, "train", "--zzzzzz")
    assert err.rstrip().endswith("unrecognized arguments: --zzzzzz")


def test_top_level_unknown_option_and_missing_command(capsys):
    err = usage_error(capsys, "--verson")
    assert err.startswith("usage: tinygrad-lc [-h] [--version] COMMAND")
    assert "(did you mean --version?)" in err
    err = usage_error(capsys)
    assert "required: COMMAND (one of demo, train, graph, gradcheck" in err


def test_graph_collapse_of_an_unknown_scope_lists_the_graphs_scopes(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "--collapse", "l3,svm_loss", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'l3', which is not a scope of this graph" in err
    assert "its scopes are: l2, svm_loss, svm_loss/margins" in err
    assert not out.exists()
    assert cli.main(["graph", "--collapse", "margins", "-o", str(out)]) == 0  # a last part


def test_draw_graph_refuses_collapse_names_it_does_not_have():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    with tg.scope("outer"), tg.scope("inner"):
        y = (x * 2).sum()
    for ok in ("outer", "inner", "outer/inner", ["outer", "inner"], True):
        viz.draw_graph(y, collapse=ok)
    with pytest.raises(ValueError, match=r"'nope', 'inner/x', which are not scopes of this "
                                         r"graph; its scopes are: outer, outer/inner"):
        viz.draw_graph(y, collapse=["outer", "nope", "inner/x"])
    with pytest.raises(ValueError, match=r"its scopes are: none"):
        viz.draw_graph((x * 2).sum(), collapse="l2")


def test_every_parser_in_the_package_is_the_shared_one():
    """allow_abbrev=False everywhere: no module builds a plain argparse.ArgumentParser."""
    import ast
    from pathlib import Path

    package = Path(cli.__file__).resolve().parent
    plain = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                    node.func, "id", None)) == "ArgumentParser":
                plain.append(f"{path.relative_to(package)}:{node.lineno}")
    assert plain == [], f"use commands.options.Parser: {plain}"
