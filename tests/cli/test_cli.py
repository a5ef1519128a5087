"""The pose2mesh command line: every subcommand's help (the demo and lift: tests/cli/test_lift_cli.py)."""
import pytest

from pose2mesh.cli.main import build_parser, main


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["lift", "--help"], ["build-body", "--help"],
                                  ["build-graphs", "--help"], ["train", "--help"], ["evaluate", "--help"],
                                  ["build-pose-prior", "--help"]])
def test_help_is_complete(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: pose2mesh" in text
    if argv == ["--help"]:
        for command in ("demo", "lift", "build-body", "build-graphs"):
            assert command in text


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {c.dest for c in sub._choices_actions} == set(sub.choices)
    assert all(c.help for c in sub._choices_actions)


def test_unknown_subcommand_fails(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lfit"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
