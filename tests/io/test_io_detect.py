"""Tests of pose2mesh.io's entry point: format detection, the format resolver, the public surface."""
import json
import subprocess
import sys
import types

import numpy as np
import pytest

import pose2mesh.io as io_api
from pose2mesh.io import detect_format, list_formats, read_keypoints, resolve_format

POSE17 = np.arange(17 * 3, dtype=float).reshape(17, 3) + 1  # no zero triplet: every point present


def _instances(num_joints: int = 17) -> list:
    return [{"keypoints": [[1.0, 2.0]] * num_joints, "keypoint_scores": [0.5] * num_joints}]


JSON_FIXTURES = {
    # name: (content, detected format, layout read)
    "coco_results": ([{"image_id": 1, "keypoints": POSE17.reshape(-1).tolist(), "score": 0.9}], "coco", "coco"),
    "coco_annotations": ({"images": [], "annotations": [{"image_id": 1, "keypoints": POSE17.reshape(-1).tolist()}]},
                         "coco", "coco"),
    "wholebody_split": ([{"image_id": 1, "keypoints": [1.0] * 51, "foot_kpts": [1.0] * 18}],
                        "coco-wholebody", "wholebody23"),
    "wholebody_133": ([{"image_id": 1, "keypoints": [1.0] * 399}], "coco-wholebody", "wholebody23"),
    "openpose": ({"version": 1.3, "people": [{"pose_keypoints_2d": [1.0] * 75}]}, "openpose", "openpose25"),
    "mmpose_list": (_instances(), "mmpose", "coco"),
    "mmpose_instance_info": ({"meta_info": {"dataset_name": "coco"}, "instance_info": _instances()}, "mmpose", "coco"),
    "mmpose_predictions": ({"predictions": [_instances(133)]}, "mmpose", "wholebody23"),
    "mediapipe_pose": ([{"x": 0.5, "y": 0.5, "z": 0.0, "visibility": 0.9}] * 33, "mediapipe", "blazepose33"),
    "mediapipe_frames": ([[{"x": 0.5, "y": 0.5, "visibility": 0.9}] * 33] * 2, "mediapipe", "blazepose33"),
    "mediapipe_wrapped": ({"pose_landmarks": [{"x": 0.5, "y": 0.5}] * 33}, "mediapipe", "blazepose33"),
    "ultralytics": ([{"confidence": 0.8, "keypoints": {"x": [1.0] * 17, "y": [2.0] * 17, "visible": [0.7] * 17}}],
                    "ultralytics", "coco"),
    "plain_json": ({"note": "any", "layout": "h36m", "image_size": [640, 480], "keypoints": POSE17.tolist()},
                   "json", "h36m"),
    "plain_json_nested": ([POSE17[:, :2].tolist()] * 2, "json", "coco"),
    "ultralytics_frames": ([[{"keypoints": {"x": [1.0] * 17, "y": [2.0] * 17}}], []], "ultralytics", "coco"),
}


@pytest.mark.parametrize("fixture", sorted(JSON_FIXTURES))
def test_json_formats_are_detected_from_the_content(tmp_path, fixture):
    content, fmt, layout = JSON_FIXTURES[fixture]
    path = tmp_path / f"{fixture}.json"
    path.write_text(json.dumps(content))
    assert detect_format(path) == fmt
    kf = read_keypoints(path, image_size=(640, 480))
    assert kf.format == fmt and kf.layout == layout and kf.source == str(path)
    # parsed JSON in memory is detected the same way
    assert detect_format(content) == fmt
    assert read_keypoints(content, image_size=(640, 480)).format == fmt


def test_array_files_are_detected_from_the_extension(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 17, 3)))
    np.savez(tmp_path / "b.npz", keypoints=np.ones((2, 17, 2)))
    (tmp_path / "c.csv").write_text(",".join(["1"] * 51) + "\n")
    assert [detect_format(tmp_path / n) for n in ("a.npy", "b.npz", "c.csv")] == ["npy", "npz", "csv"]
    assert [read_keypoints(str(tmp_path / n)).format for n in ("a.npy", "b.npz", "c.csv")] == ["npy", "npz", "csv"]


def test_a_folder_is_openpose_frames(tmp_path):
    (tmp_path / "f_0_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 54}]}))
    assert detect_format(tmp_path) == "openpose"
    assert read_keypoints(tmp_path).layout == "openpose18"


def test_objects_are_detected_by_duck_typing():
    kp = np.ones((1, 17, 2))
    ultralytics = types.SimpleNamespace(keypoints=types.SimpleNamespace(data=np.ones((1, 17, 3))))
    mediapipe = types.SimpleNamespace(pose_landmarks=[[types.SimpleNamespace(x=0.5, y=0.5, visibility=1.0)] * 33])
    sample = types.SimpleNamespace(pred_instances=types.SimpleNamespace(keypoints=kp, keypoint_scores=np.ones((1, 17))))
    cases = [
        (np.ones((17, 3)), "npy"), ((kp, np.ones((1, 17))), "mmpose"), (ultralytics, "ultralytics"),
        ([ultralytics, ultralytics], "ultralytics"), (mediapipe, "mediapipe"), (sample, "mmpose"), ([sample], "mmpose"),
    ]
    for obj, fmt in cases:
        assert detect_format(obj) == fmt
        assert read_keypoints(obj, image_size=(64, 48)).format == fmt


def test_torch_tensor_is_read_as_an_array():
    torch = pytest.importorskip("torch")
    kf = read_keypoints(torch.full((2, 25, 3), 7.0))
    assert kf.format == "npy" and kf.layout == "openpose25" and kf.source == "<Tensor>"
    assert (kf.keypoints == 7).all()


def test_format_forces_the_reader(tmp_path):
    path = tmp_path / "wb.json"
    body = (np.arange(51, dtype=float) + 1).tolist()
    path.write_text(json.dumps([{"image_id": 1, "keypoints": body, "foot_kpts": [1.0] * 18}]))
    assert read_keypoints(path).layout == "wholebody23"
    forced = read_keypoints(path, format="coco")  # the plain COCO reader takes the body only
    assert forced.format == "coco" and forced.layout == "coco"
    np.testing.assert_allclose(forced.keypoints[0].reshape(-1), body)
    npy = tmp_path / "dump.npy"
    np.save(npy, np.ones((1, 17, 3)))
    assert read_keypoints(npy, format="ultralytics").format == "ultralytics"


def test_list_formats():
    assert list_formats() == (
        "coco", "coco-wholebody", "csv", "json", "mediapipe", "mmpose", "npy", "npz", "openpose", "ultralytics",
    )


@pytest.mark.parametrize("name, expected", [
    ("COCO", "coco"), ("coco_wholebody", "coco-wholebody"), ("WholeBody", "coco-wholebody"),
    ("OpenPose", "openpose"), ("rtmlib", "mmpose"), ("ViTPose", "mmpose"), ("blazepose", "mediapipe"),
    ("yolo", "ultralytics"), ("numpy", "npy"), (" npz ", "npz"),
])
def test_resolve_format_names_and_aliases(name, expected):
    assert resolve_format(name) == expected


def test_resolve_format_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown keypoint format 'openpse'; choose one of: coco, coco-wholebody, csv"):
        resolve_format("openpse")


def test_public_surface():
    assert sorted(io_api.__all__) == sorted([
        "KeypointFile", "KeypointFileError", "read_keypoints", "list_formats", "resolve_format", "detect_format",
        "read_coco", "read_coco_wholebody", "read_openpose", "read_mmpose", "read_mediapipe", "read_ultralytics",
        "read_npy", "read_csv",
    ])
    kf = read_keypoints(np.ones((3, 17, 3)))
    # the contract of the lift API / CLI: exactly these fields
    assert [f for f in io_api.KeypointFile.__dataclass_fields__] == [
        "keypoints", "layout", "image_ids", "image_size", "scores", "source", "format",
    ]
    assert repr(kf) == ("KeypointFile(format='npy', layout='coco', num=3, num_joints=17, image_size=None, "
                        "source='<ndarray>')")
    assert len(kf) == 3 and kf.num_joints == 17


def test_keypoint_file_validates_its_fields():
    with pytest.raises(ValueError, match=r"float32 array of shape \(N, J, 3\)"):
        io_api.KeypointFile(np.zeros((1, 17, 3)), "coco", [0])
    with pytest.raises(ValueError, match="layout 'coco' has 17 keypoints, keypoints have 18"):
        io_api.KeypointFile(np.zeros((1, 18, 3), np.float32), "coco", [0])
    with pytest.raises(ValueError, match="image_ids must be a list of 1 entries"):
        io_api.KeypointFile(np.zeros((1, 17, 3), np.float32), "coco", [0, 1])


def test_import_is_light():
    code = ("import sys, pose2mesh.io; "
            "bad = [m for m in ('anny', 'smplx', 'warp', 'torch_geometric', 'ultralytics', 'mediapipe', 'mmpose', "
            "'rtmlib') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_normalised_looking_pixels_log_a_warning(caplog):
    with caplog.at_level("WARNING", logger="pose2mesh.io"):
        read_keypoints(np.full((1, 17, 3), 0.5))
    assert "look normalised" in caplog.text
