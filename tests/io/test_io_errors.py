"""Tests of pose2mesh.io on bad input: every error is a clear exception naming the file."""
import json
import re
import types

import numpy as np
import pytest

from pose2mesh.io import KeypointFileError, read_coco, read_csv, read_keypoints, read_mediapipe, read_mmpose
from pose2mesh.io import read_npy, read_openpose, read_ultralytics


def _write(path, content) -> str:
    """Write text (or JSON for a non-str) and return the path as the messages show it."""
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return re.escape(str(path))


def _coco(num_values: int) -> list:
    return [{"image_id": 1, "keypoints": [1.0] * num_values, "score": 1.0}]


def test_error_is_a_value_error():
    assert issubclass(KeypointFileError, ValueError)


# ----------------------------------------------------------- missing / empty
def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        read_keypoints(path)
    with pytest.raises(FileNotFoundError, match="keypoint file not found"):
        read_coco(str(path))


@pytest.mark.parametrize("filename, content", [
    ("empty.json", ""), ("blank.json", "  \n\t\n"), ("empty.csv", ""), ("comments.csv", "# only a comment\n"),
])
def test_empty_text_file(tmp_path, filename, content):
    name = _write(tmp_path / filename, content)
    with pytest.raises(KeypointFileError, match=f"{name}: the file is empty"):
        read_keypoints(tmp_path / filename)


def test_empty_npy_file(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(KeypointFileError, match=r"empty\.npy: the file is empty"):
        read_keypoints(tmp_path / "empty.npy")


@pytest.mark.parametrize("reader, content, message", [
    (read_keypoints, [], "the JSON list is empty"),
    (read_coco, [], "contains no people"),
    (read_openpose, {"people": []}, r"contains no people / keypoints in 1 frame"),
    (read_mmpose, [], "contains no people"),
    (read_ultralytics, [], "contains no people"),
])
def test_file_without_people(tmp_path, reader, content, message):
    name = _write(tmp_path / "none.json", content)
    with pytest.raises(KeypointFileError, match=f"{name}: {message}"):
        reader(tmp_path / "none.json")


def test_header_without_rows(tmp_path):
    name = _write(tmp_path / "h.csv", "nose_x,nose_y,nose_c\n")
    with pytest.raises(KeypointFileError, match=f"{name}: has a header but no data rows"):
        read_csv(tmp_path / "h.csv")


def test_folder_without_json(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(KeypointFileError, match=f"{re.escape(str(tmp_path))}: the folder has no .json files"):
        read_keypoints(tmp_path)


# ---------------------------------------------------------- unknown format
def test_unknown_format_lists_the_choices(tmp_path):
    _write(tmp_path / "a.json", _coco(51))
    with pytest.raises(ValueError, match=r"unknown keypoint format 'cocoo'; choose one of: coco, coco-wholebody, "
                                         r"csv, json, mediapipe, mmpose, npy, npz, openpose, ultralytics"):
        read_keypoints(tmp_path / "a.json", format="cocoo")


def test_unknown_extension(tmp_path):
    name = _write(tmp_path / "poses.txt", "1 2 3")
    with pytest.raises(KeypointFileError, match=f"{name}: cannot tell the keypoint format from the extension '.txt'"
                                                r".*pass format= one of: coco, "):
        read_keypoints(tmp_path / "poses.txt")


def test_unrecognised_json_content(tmp_path):
    name = _write(tmp_path / "other.json", {"boxes": [[1, 2, 3, 4]]})
    with pytest.raises(KeypointFileError, match=f"{name}: cannot tell the keypoint format from the JSON content"):
        read_keypoints(tmp_path / "other.json")


def test_unrecognised_object():
    with pytest.raises(KeypointFileError, match="<object>: cannot tell the keypoint format of this object"):
        read_keypoints(object())


def test_forced_format_that_does_not_match_the_file(tmp_path):
    name = _write(tmp_path / "coco.json", _coco(51))
    with pytest.raises(KeypointFileError, match=f"{name}: not OpenPose JSON: expected an object with a 'people' list"):
        read_keypoints(tmp_path / "coco.json", format="openpose")


# ----------------------------------------------------------- malformed JSON
def test_malformed_json_gives_line_and_column(tmp_path):
    name = _write(tmp_path / "bad.json", '[{"image_id": 1,\n  "keypoints": [1, 2, 3,]}]')
    with pytest.raises(KeypointFileError, match=f"{name}: malformed JSON at line 2 column"):
        read_keypoints(tmp_path / "bad.json")
    with pytest.raises(KeypointFileError, match="malformed JSON"):
        read_coco(tmp_path / "bad.json")


@pytest.mark.parametrize("filename, write, message", [
    ("bin.json", lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), r"bin\.json: not a UTF-8 text file"),
    ("obj.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
     r"obj\.npy: holds pickled Python objects"),
    ("bad.npz", lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"), r"bad\.npz: cannot read as \.npy/\.npz"),
])
def test_unreadable_file(tmp_path, filename, write, message):
    write(tmp_path / filename)
    with pytest.raises(KeypointFileError, match=message):
        read_keypoints(tmp_path / filename)


def test_keypoints_that_are_not_numbers(tmp_path):
    name = _write(tmp_path / "s.json", [{"image_id": 1, "keypoints": ["a"] * 51}])
    with pytest.raises(KeypointFileError, match=f"{name}: result 0 'keypoints': not numbers"):
        read_coco(tmp_path / "s.json")


def test_ragged_arrays(tmp_path):
    name = _write(tmp_path / "m.json", [{"keypoints": [[1, 2], [3]], "keypoint_scores": [1, 1]}])
    with pytest.raises(KeypointFileError, match=f"{name}: frame m.json instance 0 'keypoints': not a rectangular"):
        read_mmpose(tmp_path / "m.json")


# -------------------------------------------- wrong values per keypoint
def test_coco_values_not_a_multiple_of_three(tmp_path):
    name = _write(tmp_path / "r.json", _coco(50))
    with pytest.raises(KeypointFileError,
                       match=rf"{name}: result 0 'keypoints': 50 values is not a multiple of 3 \(x, y, v per keypoint\)"):
        read_keypoints(tmp_path / "r.json")


def test_openpose_values_not_a_multiple_of_three(tmp_path):
    name = _write(tmp_path / "f_keypoints.json", {"people": [{"pose_keypoints_2d": [1.0] * 74}]})
    with pytest.raises(KeypointFileError, match=f"{name}: person 0 'pose_keypoints_2d': 74 values is not a multiple of 3"):
        read_keypoints(tmp_path / "f_keypoints.json")


def test_array_with_wrong_last_axis(tmp_path):
    np.save(tmp_path / "k.npy", np.zeros((2, 17, 4)))
    with pytest.raises(KeypointFileError, match=r"k\.npy: keypoints: 4 values per keypoint \(shape \(2, 17, 4\)\); "
                                                r"expected 2 \(x, y\) or 3 \(x, y, confidence\); "
                                                r"MediaPipe landmarks .*pass format='mediapipe'"):
        read_keypoints(tmp_path / "k.npy")
    with pytest.raises(KeypointFileError, match=r"expected shape \(N, J, 2\|3\) or \(J, 2\|3\), got \(51,\)"):
        read_npy(np.zeros(51))


def test_mediapipe_array_with_wrong_last_axis():
    with pytest.raises(KeypointFileError, match=r"<ndarray>: landmarks of shape \(1, 33, 7\)"):
        read_mediapipe(np.zeros((1, 33, 7)), image_size=(10, 10))


def test_csv_row_length_does_not_fit_the_layout(tmp_path):
    name = _write(tmp_path / "c.csv", ",".join(["1"] * 50) + "\n")
    with pytest.raises(KeypointFileError, match=f"{name}: 50 values per row do not make 3 or 2 values per keypoint"
                                                r".*layout 'coco' \(17 keypoints\)"):
        read_csv(tmp_path / "c.csv", layout="coco")


def test_csv_cell_not_a_number_and_ragged_rows(tmp_path):
    name = _write(tmp_path / "c.csv", "1,2,3\n4,abc,6\n")
    with pytest.raises(KeypointFileError, match=f"{name}: line 2 column 2: 'abc' is not a number"):
        read_csv(tmp_path / "c.csv")
    name = _write(tmp_path / "r.csv", "1,2,3\n4,5\n")
    with pytest.raises(KeypointFileError, match=f"{name}: line 2 has 2 columns, line 1 has 3"):
        read_csv(tmp_path / "r.csv")


def test_mixed_keypoint_counts(tmp_path):
    frame = {"people": [{"pose_keypoints_2d": [1.0] * 75}, {"pose_keypoints_2d": [1.0] * 54}]}
    name = _write(tmp_path / "f.json", frame)
    with pytest.raises(KeypointFileError, match=f"{name}: person 1 has 18 keypoints, person 0 has 25"):
        read_openpose(tmp_path / "f.json")


def test_scores_that_do_not_match_the_keypoints():
    with pytest.raises(KeypointFileError, match=r"<tuple>: keypoint scores of shape \(2, 16\) do not match keypoints"):
        read_mmpose((np.zeros((2, 17, 2)), np.zeros((2, 16))))


def test_image_ids_that_do_not_match_the_keypoints(tmp_path):
    path = tmp_path / "ids.npz"
    np.savez(path, keypoints=np.ones((1, 17, 3)), image_ids=np.array([1, 2, 3]))
    with pytest.raises(KeypointFileError, match=f"{re.escape(str(path))}: 3 image ids for 1 people"):
        read_keypoints(path)
    name = _write(tmp_path / "ids.json", {"keypoints": np.ones((1, 17, 3)).tolist(), "image_ids": [1, 2]})
    with pytest.raises(KeypointFileError, match=f"{name}: 2 image ids for 1 people"):
        read_keypoints(tmp_path / "ids.json")


def test_landmark_without_coordinates(tmp_path):
    name = _write(tmp_path / "lm.json", [{"x": 0.1, "y": 0.2}] * 32 + [{"z": 0.0}])
    with pytest.raises(KeypointFileError, match=f"{name}: pose 0 landmark 32 has no 'x' / 'y'"):
        read_mediapipe(tmp_path / "lm.json", image_size=(10, 10))


# ------------------------------------------------------------------ layouts
def test_unknown_layout_names_the_file_and_the_choices(tmp_path):
    name = _write(tmp_path / "r.json", _coco(51))
    with pytest.raises(KeypointFileError, match=f"{name}: unknown joint layout 'cocoo'; choose one of: blazepose33, coco"):
        read_keypoints(tmp_path / "r.json", layout="cocoo")


def test_layout_of_another_size(tmp_path):
    name = _write(tmp_path / "r.json", _coco(51))
    with pytest.raises(KeypointFileError, match=f"{name}: 17 keypoints per person, but layout 'openpose25' has 25"):
        read_keypoints(tmp_path / "r.json", layout="openpose25")


def test_ambiguous_or_unknown_keypoint_count_asks_for_a_layout(tmp_path):
    np.save(tmp_path / "halpe.npy", np.zeros((1, 26, 3)))
    with pytest.raises(KeypointFileError, match=r"halpe\.npy: cannot tell the keypoint layout from 26 keypoints per "
                                                r"person; pass layout= one of: blazepose33 \(33\), coco \(17\)"):
        read_keypoints(tmp_path / "halpe.npy")


def test_ambiguous_csv_row(tmp_path):
    name = _write(tmp_path / "a.csv", ",".join(["1"] * 48) + "\n")
    with pytest.raises(KeypointFileError, match=f"{name}: ambiguous: 48 values per row could be 16 keypoints x 3 values "
                                                r"\(mpii\) or 24 keypoints x 2 values \(smpl24\); pass layout="):
        read_keypoints(tmp_path / "a.csv")


# ------------------------------------------------------- image size, misc
def test_mediapipe_needs_the_image_size(tmp_path):
    name = _write(tmp_path / "lm.json", [{"x": 0.1, "y": 0.2, "visibility": 1.0}] * 33)
    with pytest.raises(KeypointFileError, match=f"{name}: MediaPipe landmarks are normalised .*pass image_size="):
        read_keypoints(tmp_path / "lm.json")


@pytest.mark.parametrize("size", [(0, 480), (640.5, 480), (640,), "big"])
def test_invalid_image_size(size):
    with pytest.raises(KeypointFileError, match="<ndarray>: image_size must be"):
        read_npy(np.zeros((17, 3)), image_size=size)


def test_image_size_disagreeing_with_the_file(tmp_path):
    result = types.SimpleNamespace(keypoints=types.SimpleNamespace(data=np.ones((1, 17, 3))), orig_shape=(480, 640))
    with pytest.raises(KeypointFileError, match=r"image_size=\(1280, 720\) was given but the file says \(640, 480\)"):
        read_ultralytics(result, image_size=(1280, 720))


def test_ultralytics_result_without_keypoints():
    with pytest.raises(KeypointFileError, match=r"result 0 has no keypoints \(not a pose model\?\)"):
        read_ultralytics(types.SimpleNamespace(keypoints=None))


def test_npz_without_keypoints_lists_its_arrays(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(KeypointFileError, match=r"x\.npz: no 'keypoints' array among: a, b"):
        read_keypoints(tmp_path / "x.npz")
