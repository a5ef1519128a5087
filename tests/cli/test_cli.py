"""The pose2mesh command line: every subcommand's help, and the demo's outputs."""
import json

import numpy as np
import pytest
import trimesh
from PIL import Image

from pose2mesh.cli.main import build_parser, main


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["build-body", "--help"], ["build-graphs", "--help"]])
def test_help_is_complete(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "usage: pose2mesh" in text
    if argv == ["--help"]:
        for command in ("demo", "build-body", "build-graphs"):
            assert command in text


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {c.dest for c in sub._choices_actions} == set(sub.choices)
    assert all(c.help for c in sub._choices_actions)


def test_demo_writes_mesh_and_keypoints(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert str(tmp_path / "demo_body.obj") in capsys.readouterr().out
    mesh = trimesh.load(tmp_path / "demo_body.obj", process=False)
    assert mesh.vertices.shape == (12272, 3) and mesh.faces.shape == (24540, 3)
    view = np.asarray(Image.open(tmp_path / "demo_view.png"))
    assert view.shape == (512, 512, 3) and (view < 250).any(axis=-1).mean() > 0.05  # the body covers the view
    kp = json.loads((tmp_path / "demo_keypoints_coco.json").read_text())
    assert kp["layout"] == "coco" and len(kp["keypoints"]) == 17
    # the keypoints lie on the demo body (within its bounding box)
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    assert all(lo[i] - 0.05 <= p[i] <= hi[i] + 0.05 for p in kp["keypoints"] for i in range(3))


def test_unknown_subcommand_fails(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lfit"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
