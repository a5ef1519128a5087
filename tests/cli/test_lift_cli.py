"""``pose2mesh lift`` and ``pose2mesh demo``: files written, people skipped, overlay, help."""
import json

import numpy as np
import pytest
import trimesh
from PIL import Image

from pose2mesh._assets import assets_dir
from pose2mesh.api import DEFAULT_MODEL, Lifter
from pose2mesh.cli.main import main
from pose2mesh.examples import load_example

_UNTRAINED = []


@pytest.fixture
def fast_model(monkeypatch):
    """The CLI's default model replaced by an untrained one (mechanics only, no model file needed)."""
    def untrained(cls, device=None):
        if not _UNTRAINED:
            _UNTRAINED.append(Lifter.untrained())
        return _UNTRAINED[0]

    monkeypatch.setattr(Lifter, "from_pretrained", classmethod(untrained))


@pytest.fixture
def detections(tmp_path):
    """Three people in COCO layout on two images; the third has one usable keypoint."""
    kp = np.repeat(load_example().keypoints[None], 3, 0).astype(np.float32)
    kp[1, :, 0] -= 300.0
    kp[2, 1:, 2] = 0.0
    path = tmp_path / "dets.npz"
    np.savez(path, keypoints=kp, image_ids=np.array(["frames/a.jpg", "frames/a.jpg", "frames/b.jpg"]))
    return path


def test_lift_writes_meshes_and_joints(fast_model, detections, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["lift", str(detections), "--image-size", "1280", "720", "--out", str(out)]) == 0
    assert "lifted 2 of 3 people" in capsys.readouterr().out
    meshes = sorted(p.name for p in out.glob("*.obj"))
    assert meshes == ["mesh_00000_a.obj", "mesh_00001_a.obj"]
    assert trimesh.load(out / meshes[0], process=False).vertices.shape == (12272, 3)
    doc = json.loads((out / "joints.json").read_text())
    assert doc["layout"] == "coco" and doc["image_size"] == [1280, 720] and doc["focal_assumed"]
    assert [p["row"] for p in doc["people"]] == [0, 1] and doc["people"][1]["mesh"] == "mesh_00001_a.obj"
    assert doc["people"][0]["image_id"] == "frames/a.jpg" and len(doc["people"][0]["joints"]) == 17
    assert doc["skipped"] == [{"row": 2, "image_id": "frames/b.jpg", "usable_keypoints": 1,
                               "reason": "fewer than 2 usable keypoints"}]
    assert not (out / "overlay.png").exists()


def test_lift_skips_people_it_cannot_place_and_lists_why(fast_model, tmp_path):
    kp = np.repeat(load_example().keypoints[None], 4, 0).astype(np.float32)
    kp[1, 3:, 2] = 0.0
    kp[1, :3, :2] = kp[1, 0, :2]  # three usable keypoints on one pixel
    kp[3, :, 2] = 0.0  # nobody
    np.savez(tmp_path / "k.npz", keypoints=kp)
    out = tmp_path / "out"
    # batches of 2: the unplaceable row 1 must not stop the run, nor lose the rows after it
    assert main(["lift", str(tmp_path / "k.npz"), "--image-size", "1280", "720", "--batch-size", "2",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "joints.json").read_text())
    assert [p["row"] for p in doc["people"]] == [0, 2]
    assert [(s["row"], s["reason"]) for s in doc["skipped"]] == [
        (1, "usable keypoints at one image position"), (3, "fewer than 2 usable keypoints")]


def test_joints_json_has_the_same_fields_when_nobody_is_lifted(fast_model, detections, tmp_path):
    out = tmp_path / "out"
    assert main(["lift", str(detections), "--image-size", "1280", "720", "--min-confidence", "5",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "joints.json").read_text())
    assert doc["people"] == [] and len(doc["skipped"]) == 3
    assert {"layout", "keypoint_names", "units", "image_size", "focal_assumed", "notes"} <= set(doc)
    assert doc["focal_assumed"] and len(doc["keypoint_names"]) == 17


@pytest.mark.parametrize("image_id, stem, numeric, match", [
    (1000, "000000001000", True, True), (1000, "000000001000", False, False), ("1000", "1000", False, True),
    (1000, "000000001001", True, False), ("²", "²", True, True), ("²", "2", True, False),
    ("vid_10_keypoints.json", "vid_10", False, True), ("vid_1_keypoints.json", "vid_10", False, False),
    ("frames/a.jpg", "a", False, True), ("frames/a.jpg", "b", False, False), ("my photo (1).jpg", "my photo (1)", False, True),
])
def test_overlay_image_matches_coco_and_openpose_names(image_id, stem, numeric, match):
    from pose2mesh.cli.main import _matches_image

    assert _matches_image(image_id, stem, numeric) is match


def test_lift_with_image_writes_an_overlay_of_that_image(fast_model, detections, tmp_path, capsys):
    image = tmp_path / "a.png"
    Image.fromarray(np.full((720, 1280, 3), 40, dtype=np.uint8)).save(image)
    out = tmp_path / "out"
    args = ["lift", str(detections), "--image", str(image), "--focal", "900", "--mesh-format", "ply", "--out", str(out)]
    assert main(args) == 0
    assert "overlay" in capsys.readouterr().out
    overlay = np.asarray(Image.open(out / "overlay.png"))
    assert overlay.shape == (720, 1280, 3) and (overlay != 40).any()
    assert len(list(out.glob("*.ply"))) == 2
    assert not json.loads((out / "joints.json").read_text())["focal_assumed"]


def test_lift_without_image_size_is_a_clear_error(fast_model, detections, tmp_path, capsys):
    assert main(["lift", str(detections), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == (f"pose2mesh lift: error: the image size of '{detections}' is unknown; "
                                       "pass --image IMG or --image-size W H\n")


def test_lift_image_and_image_size_are_exclusive(detections, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["lift", str(detections), "--image", "x.png", "--image-size", "1", "2", "--out", str(tmp_path)])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.fixture
def demo_model(monkeypatch):
    """The shipped model when installed, else an untrained one."""
    if not (assets_dir() / DEFAULT_MODEL).is_file():
        monkeypatch.setattr(Lifter, "from_pretrained", classmethod(lambda cls, device=None: Lifter.untrained()))


def test_demo_writes_mesh_overlay_and_view(demo_model, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("demo_mesh.obj", "demo_joints.json", "demo_overlay.png", "demo_view.png"):
        assert str(tmp_path / name) in printed
    mesh = trimesh.load(tmp_path / "demo_mesh.obj", process=False)
    assert mesh.vertices.shape == (12272, 3) and mesh.faces.shape == (24540, 3)
    overlay = np.asarray(Image.open(tmp_path / "demo_overlay.png"))
    assert overlay.shape == (720, 1280, 3)  # the example keypoints' image size
    view = np.asarray(Image.open(tmp_path / "demo_view.png"))
    assert view.shape == (512, 512, 3) and (view < 250).any(axis=-1).mean() > 0.02
    assert json.loads((tmp_path / "demo_joints.json").read_text())["layout"] == "coco"


def test_lift_snap_puts_the_keypoints_on_the_input(fast_model, detections, tmp_path):
    errors = {}
    for flag in ([], ["--snap"]):
        out = tmp_path / f"out{len(flag)}"
        assert main(["lift", str(detections), "--image-size", "1280", "720", "--out", str(out)] + flag) == 0
        errors[bool(flag)] = [p["reprojection_error_px"] for p in json.loads((out / "joints.json").read_text())["people"]]
    # an untrained model's keypoints are far off (~190 px); snapped, they are on the input
    assert min(errors[False]) > 50.0 and max(errors[True]) < 0.1, errors
