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


def test_input_errors_are_one_line_with_exit_status_1(tmp_path, capsys):
    argv = ["lift", str(tmp_path / "missing.json"), "--image-size", "640", "480", "--out", str(tmp_path / "o")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == f"pose2mesh lift: error: keypoint file not found: '{tmp_path / 'missing.json'}'\n"
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["lift", str(tmp_path / "bad.json"), "--image-size", "640", "480", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"pose2mesh lift: error: {tmp_path / 'bad.json'}: malformed JSON") and err.count("\n") == 1


def test_verbose_input_error_adds_the_traceback(tmp_path, capsys):
    assert main(["-v", "lift", str(tmp_path / "missing.json"), "--image-size", "1", "1", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("keypoint file not found: "
                                                                       f"'{tmp_path / 'missing.json'}'\n")


def test_other_errors_keep_their_traceback(tmp_path, monkeypatch):
    import pose2mesh.cli.main as cli

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_lift", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["lift", "x.json", "--image-size", "1", "1", "--out", str(tmp_path)])


@pytest.mark.parametrize("argv, message", [
    (["lift", "x.json", "--out", "o", "--batch-size", "0"], "argument --batch-size: expected an integer >= 1, got 0"),
    (["lift", "x.json", "--out", "o", "--batch-size", "-1"], "argument --batch-size: expected an integer >= 1"),
    (["lift", "x.json", "--out", "o", "--device", "gpu"], "argument --device: unknown device 'gpu'"),
    (["demo", "--device", "cuda:7"], "argument --device: device 'cuda:7' requested, but"),
    (["evaluate", "m.pt", "--motion", "m", "--baseline", "foo.pt"],
     "argument --baseline: expected NAME=CHECKPOINT, got 'foo.pt'"),
    (["build-pose-prior", "--motion", "m", "--num", "0"], "argument --num: expected an integer >= 1, got 0"),
])
def test_bad_argument_values_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_checks_its_checkpoints_before_building_the_test_set(tmp_path, capsys, monkeypatch):
    import pose2mesh.data

    monkeypatch.setattr(pose2mesh.data, "make_test_set", lambda *a, **k: pytest.fail("test set built first"))
    assert main(["evaluate", str(tmp_path), "--motion", str(tmp_path)]) == 1
    assert f"checkpoint '{tmp_path}' is a folder" in capsys.readouterr().err
    (tmp_path / "m.pt").write_bytes(b"")
    assert main(["evaluate", str(tmp_path / "m.pt"), "--motion", str(tmp_path), "--baseline", "b=gone.pt"]) == 1
    assert "checkpoint 'gone.pt' not found" in capsys.readouterr().err
