"""Tests of the pose2mesh.io readers: each writes a small file in its exact format and checks the values."""
import json
import types

import numpy as np
import pytest

from pose2mesh.io import (
    KeypointFile,
    KeypointFileError,
    read_coco,
    read_coco_wholebody,
    read_csv,
    read_keypoints,
    read_mediapipe,
    read_mmpose,
    read_npy,
    read_openpose,
    read_ultralytics,
)
from pose2mesh.joints import get_layout


def _triplets(points: np.ndarray) -> list:
    """``(J, 3)`` -> the flat ``[x, y, v, ...]`` list of COCO / OpenPose JSON."""
    return [float(v) for v in np.asarray(points).reshape(-1)]


def _pose(rng: np.random.Generator, num_joints: int) -> np.ndarray:
    """``(J, 3)`` pixel coordinates in a 640 x 480 image and confidences in (0.1, 1)."""
    return np.column_stack([
        rng.uniform(0, 640, num_joints), rng.uniform(0, 480, num_joints), rng.uniform(0.1, 1, num_joints),
    ]).round(3)


def _check(kf: KeypointFile, n: int, layout: str, fmt: str) -> None:
    """The invariants of every result."""
    assert isinstance(kf, KeypointFile)
    assert kf.keypoints.dtype == np.float32
    assert kf.keypoints.shape == (n, get_layout(layout).num_joints, 3)
    assert kf.layout == layout and kf.format == fmt and len(kf.image_ids) == n


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --------------------------------------------------------------------- COCO
def test_coco_results(tmp_path, rng):
    a, b = _pose(rng, 17), _pose(rng, 17)
    b[3] = 0  # an all-zero triplet: absent
    path = tmp_path / "person_keypoints_val2017_results.json"
    path.write_text(json.dumps([
        {"image_id": 397133, "category_id": 1, "keypoints": _triplets(a), "score": 0.93},
        {"image_id": 37777, "category_id": 1, "keypoints": _triplets(b), "score": 0.41},
    ]))
    kf = read_coco(path)
    _check(kf, 2, "coco", "coco")
    np.testing.assert_allclose(kf.keypoints[0], a, atol=1e-4)
    np.testing.assert_allclose(kf.keypoints[1, 4:], b[4:], atol=1e-4)
    assert np.isnan(kf.keypoints[1, 3, :2]).all() and kf.keypoints[1, 3, 2] == 0
    assert kf.image_ids == [397133, 37777]
    np.testing.assert_allclose(kf.scores, [0.93, 0.41], rtol=1e-6)
    assert kf.image_size is None and kf.source == str(path)


def test_coco_annotations_visibility_flags_and_image_size(tmp_path, rng):
    pose = _pose(rng, 17)
    pose[:, 2] = 2
    pose[0, 2] = 1                 # labelled, occluded: present
    pose[1] = 0                    # not labelled: absent
    empty = np.zeros((17, 3))      # a crowd / num_keypoints 0: skipped
    path = tmp_path / "person_keypoints_train.json"
    path.write_text(json.dumps({
        "images": [{"id": 5, "width": 640, "height": 480}, {"id": 6, "width": 640, "height": 480}],
        "annotations": [
            {"image_id": 5, "keypoints": _triplets(pose), "num_keypoints": 16},
            {"image_id": 6, "keypoints": _triplets(empty), "num_keypoints": 0},
            {"image_id": 6, "bbox": [0, 0, 1, 1]},  # another category: no keypoints
        ],
    }))
    kf = read_coco(path)
    _check(kf, 1, "coco", "coco")
    np.testing.assert_allclose(kf.keypoints[0, 2:, :2], pose[2:, :2], atol=1e-4)
    assert kf.keypoints[0, 0, 2] == 1 and (kf.keypoints[0, 2:, 2] == 1).all()
    assert np.isnan(kf.keypoints[0, 1, :2]).all() and kf.keypoints[0, 1, 2] == 0
    assert kf.image_ids == [5] and kf.image_size == (640, 480) and kf.scores is None


def test_coco_wholebody_split_parts(tmp_path, rng):
    body, foot, face, hand = _pose(rng, 17), _pose(rng, 6), _pose(rng, 68), _pose(rng, 21)
    path = tmp_path / "wholebody_results.json"
    path.write_text(json.dumps([{
        "image_id": 1, "category_id": 1, "score": 0.8,
        "keypoints": _triplets(body), "foot_kpts": _triplets(foot), "face_kpts": _triplets(face),
        "lefthand_kpts": _triplets(hand), "righthand_kpts": _triplets(hand),
    }]))
    kf = read_coco_wholebody(path)
    _check(kf, 1, "wholebody23", "coco-wholebody")
    np.testing.assert_allclose(kf.keypoints[0], np.concatenate([body, foot]), atol=1e-4)
    # the 18th point (index 17) is the left big toe, the first foot keypoint
    assert get_layout("wholebody23").names[17] == "left_big_toe"
    body_only = read_coco_wholebody(path, layout="coco")
    _check(body_only, 1, "coco", "coco-wholebody")
    np.testing.assert_allclose(body_only.keypoints[0], body, atol=1e-4)


def test_coco_wholebody_133_in_one_list(tmp_path, rng):
    points = _pose(rng, 133)
    path = tmp_path / "wb.json"
    path.write_text(json.dumps([{"image_id": 3, "keypoints": _triplets(points), "score": 1.0}]))
    kf = read_coco_wholebody(path)
    _check(kf, 1, "wholebody23", "coco-wholebody")
    np.testing.assert_allclose(kf.keypoints[0], points[:23], atol=1e-4)
    body_only = read_coco_wholebody(path, layout="coco")
    np.testing.assert_allclose(body_only.keypoints[0], points[:17], atol=1e-4)


# ----------------------------------------------------------------- OpenPose
def _openpose_frame(people: list) -> dict:
    return {"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": _triplets(p), "face_keypoints_2d": [],
         "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []} for p in people
    ]}


def test_openpose_body25_file(tmp_path, rng):
    a, b = _pose(rng, 25), _pose(rng, 25)
    a[19] = 0  # not detected
    path = tmp_path / "video_000000000000_keypoints.json"
    path.write_text(json.dumps(_openpose_frame([a, b])))
    kf = read_openpose(path, image_size=(640, 480))
    _check(kf, 2, "openpose25", "openpose")
    np.testing.assert_allclose(kf.keypoints[1], b, atol=1e-4)
    np.testing.assert_allclose(kf.keypoints[0, :19], a[:19], atol=1e-4)
    assert np.isnan(kf.keypoints[0, 19, :2]).all() and kf.keypoints[0, 19, 2] == 0
    assert kf.image_ids == [path.name, path.name] and kf.image_size == (640, 480)


def test_openpose_coco18_by_value_count(tmp_path, rng):
    pose = _pose(rng, 18)
    path = tmp_path / "f_keypoints.json"
    path.write_text(json.dumps(_openpose_frame([pose])))
    kf = read_openpose(path)
    _check(kf, 1, "openpose18", "openpose")
    np.testing.assert_allclose(kf.keypoints[0], pose, atol=1e-4)


def test_openpose_folder_is_frames_in_natural_order(tmp_path, rng):
    poses = [_pose(rng, 25) for _ in range(4)]
    # frame 10 after frame 2; frame 3 has nobody; a non-JSON file is ignored
    (tmp_path / "clip_2_keypoints.json").write_text(json.dumps(_openpose_frame([poses[0]])))
    (tmp_path / "clip_10_keypoints.json").write_text(json.dumps(_openpose_frame([poses[1], poses[2]])))
    (tmp_path / "clip_3_keypoints.json").write_text(json.dumps(_openpose_frame([])))
    (tmp_path / "clip_1_keypoints.json").write_text(json.dumps(_openpose_frame([poses[3]])))
    (tmp_path / "notes.txt").write_text("not a frame")
    kf = read_openpose(tmp_path)
    _check(kf, 4, "openpose25", "openpose")
    assert kf.image_ids == ["clip_1_keypoints.json", "clip_2_keypoints.json",
                            "clip_10_keypoints.json", "clip_10_keypoints.json"]
    np.testing.assert_allclose(kf.keypoints, np.stack([poses[3], poses[0], poses[1], poses[2]]), atol=1e-4)
    assert kf.source == str(tmp_path)


# ------------------------------------------------------------------- MMPose
def test_mmpose_instance_list(tmp_path, rng):
    pose = _pose(rng, 17)
    path = tmp_path / "000000000785.json"
    path.write_text(json.dumps([{
        "keypoints": pose[:, :2].tolist(), "keypoint_scores": pose[:, 2].tolist(),
        "bbox": [[10.0, 20.0, 300.0, 400.0]], "bbox_score": 0.97,
    }]))
    kf = read_mmpose(path)
    _check(kf, 1, "coco", "mmpose")
    np.testing.assert_allclose(kf.keypoints[0], pose, atol=1e-4)
    assert kf.image_ids == [path.name]
    np.testing.assert_allclose(kf.scores, [0.97], rtol=1e-6)


def test_mmpose_instance_info_video_with_dataset_name(tmp_path, rng):
    poses = [_pose(rng, 17) for _ in range(3)]

    def instance(p):
        return {"keypoints": p[:, :2].tolist(), "keypoint_scores": p[:, 2].tolist()}

    path = tmp_path / "results_video.json"
    path.write_text(json.dumps({
        "meta_info": {"dataset_name": "h36m", "num_keypoints": 17},
        "instance_info": [
            {"frame_id": 1, "instances": [instance(poses[0]), instance(poses[1])]},
            {"frame_id": 2, "instances": []},
            {"frame_id": 3, "instances": [instance(poses[2])]},
        ],
    }))
    kf = read_mmpose(path)
    _check(kf, 3, "h36m", "mmpose")  # the layout comes from meta_info, not from J = 17
    assert kf.image_ids == [1, 1, 3]
    np.testing.assert_allclose(kf.keypoints, np.stack(poses), atol=1e-4)
    assert kf.scores is None


def test_mmpose_rtmlib_arrays_wholebody(rng):
    keypoints = rng.uniform(0, 500, (2, 133, 2)).astype(np.float32)
    scores = rng.uniform(0, 1, (2, 133)).astype(np.float32)
    kf = read_mmpose((keypoints, scores))
    _check(kf, 2, "wholebody23", "mmpose")
    np.testing.assert_array_equal(kf.keypoints[..., :2], keypoints[:, :23])
    np.testing.assert_array_equal(kf.keypoints[..., 2], scores[:, :23])
    assert kf.image_ids == [0, 1] and kf.source == "<tuple>"


def test_mmpose_pose_data_sample_duck_typed(rng):
    keypoints, scores = rng.uniform(0, 500, (1, 17, 2)), rng.uniform(0, 1, (1, 17))
    instances = types.SimpleNamespace(keypoints=keypoints, keypoint_scores=scores, bbox_scores=np.array([0.5]))
    samples = [types.SimpleNamespace(pred_instances=instances)] * 2
    kf = read_mmpose(samples)
    _check(kf, 2, "coco", "mmpose")
    np.testing.assert_allclose(kf.keypoints[1, :, :2], keypoints[0], rtol=1e-6)
    assert kf.image_ids == [0, 1]
    np.testing.assert_allclose(kf.scores, [0.5, 0.5])


def test_mmpose_npz(tmp_path, rng):
    keypoints, scores = rng.uniform(0, 500, (3, 17, 2)), rng.uniform(0, 1, (3, 17))
    path = tmp_path / "vitpose.npz"
    np.savez(path, keypoints=keypoints, keypoint_scores=scores)
    kf = read_mmpose(path)
    _check(kf, 3, "coco", "mmpose")
    np.testing.assert_allclose(kf.keypoints[..., 2], scores, rtol=1e-6)


# ---------------------------------------------------------------- MediaPipe
def _landmarks(rng: np.random.Generator, visibility: bool = True) -> list:
    values = rng.uniform(0, 1, (33, 4)).round(4)
    keys = ("x", "y", "z", "visibility") if visibility else ("x", "y", "z")
    return [dict(zip(keys, map(float, v))) for v in values]


def test_mediapipe_json_frames(tmp_path, rng):
    frames = [_landmarks(rng), _landmarks(rng)]
    path = tmp_path / "landmarks.json"
    path.write_text(json.dumps(frames))
    kf = read_mediapipe(path, image_size=(640, 480))
    _check(kf, 2, "blazepose33", "mediapipe")
    lm = frames[1][31]
    np.testing.assert_allclose(kf.keypoints[1, 31], [lm["x"] * 640 - 0.5, lm["y"] * 480 - 0.5, lm["visibility"]],
                               rtol=1e-5)
    assert kf.image_ids == [0, 1] and kf.image_size == (640, 480)


def test_mediapipe_single_pose_without_visibility_and_wrapped_ids(tmp_path, rng):
    pose = _landmarks(rng, visibility=False)
    kf = read_mediapipe(pose, image_size=(100, 50))
    _check(kf, 1, "blazepose33", "mediapipe")
    assert (kf.keypoints[0, :, 2] == 1).all()
    wrapped = [{"frame": 7, "landmarks": pose}]
    assert read_mediapipe(wrapped, image_size=(100, 50)).image_ids == [7]


def test_mediapipe_convention_centre_maps_to_centre_pixel():
    # normalised (0.5, 0.5) is the image centre; with pixel centres on integers
    # that is ((W - 1) / 2, (H - 1) / 2); normalised 0 is the left edge, u = -0.5
    values = np.zeros((33, 4))
    values[:, 3] = 0.9
    values[0, :2] = 0.5
    kf = read_mediapipe(values, image_size=(640, 480))
    np.testing.assert_allclose(kf.keypoints[0, 0], [319.5, 239.5, 0.9], rtol=1e-6)
    np.testing.assert_allclose(kf.keypoints[0, 1, :2], [-0.5, -0.5])


def test_mediapipe_npy_and_result_objects(tmp_path, rng):
    values = rng.uniform(0, 1, (2, 33, 4))
    path = tmp_path / "blazepose.npy"
    np.save(path, values)
    kf = read_mediapipe(path, image_size=(200, 100))
    _check(kf, 2, "blazepose33", "mediapipe")
    np.testing.assert_allclose(kf.keypoints[..., 0], values[..., 0] * 200 - 0.5, rtol=1e-5)
    np.testing.assert_allclose(kf.keypoints[..., 2], values[..., 3], rtol=1e-6)
    # Tasks API result: pose_landmarks is a list (people) of lists of landmark objects
    people = [[types.SimpleNamespace(x=v[0], y=v[1], z=v[2], visibility=v[3]) for v in pose] for pose in values]
    result = types.SimpleNamespace(pose_landmarks=people)
    objects = read_mediapipe([result], image_size=(200, 100))
    np.testing.assert_allclose(objects.keypoints, kf.keypoints)
    assert objects.image_ids == [0, 0]


def test_mediapipe_frames_without_anyone_add_no_rows(rng):
    pose = _landmarks(rng)
    objs = [types.SimpleNamespace(**lm) for lm in pose]
    tasks = [types.SimpleNamespace(pose_landmarks=[objs]), types.SimpleNamespace(pose_landmarks=[]),
             types.SimpleNamespace(pose_landmarks=None), types.SimpleNamespace(pose_landmarks=[objs])]
    assert read_mediapipe(tasks, image_size=(64, 48)).image_ids == [0, 3]
    frames = [{"frame": 0, "landmarks": pose}, {"frame": 1, "landmarks": []}, [], None, pose]
    kf = read_mediapipe(frames, image_size=(64, 48))
    assert kf.image_ids == [0, 4] and kf.keypoints.shape == (2, 33, 3)
    with pytest.raises(KeypointFileError, match="contains no people"):
        read_mediapipe([types.SimpleNamespace(pose_landmarks=[])], image_size=(64, 48))


# -------------------------------------------------------------- ultralytics
def test_ultralytics_results_objects(rng):
    data = np.concatenate([rng.uniform(0, 600, (2, 17, 2)), rng.uniform(0, 1, (2, 17, 1))], axis=-1)
    result = types.SimpleNamespace(
        keypoints=types.SimpleNamespace(data=data), boxes=types.SimpleNamespace(conf=np.array([0.9, 0.6])),
        orig_shape=(480, 640), path="bus.jpg",
    )
    kf = read_ultralytics(result)
    _check(kf, 2, "coco", "ultralytics")
    np.testing.assert_allclose(kf.keypoints, data, rtol=1e-6)
    assert kf.image_ids == ["bus.jpg", "bus.jpg"] and kf.image_size == (640, 480)
    np.testing.assert_allclose(kf.scores, [0.9, 0.6], rtol=1e-6)


def test_ultralytics_torch_tensor_keypoints(rng):
    torch = pytest.importorskip("torch")
    data = torch.tensor(rng.uniform(0, 600, (1, 17, 3)))
    kf = read_ultralytics([types.SimpleNamespace(keypoints=types.SimpleNamespace(data=data))])
    np.testing.assert_allclose(kf.keypoints[0], data[0].numpy(), rtol=1e-6)
    assert kf.image_ids == [0] and kf.scores is None and kf.image_size is None


def test_ultralytics_json_dump(tmp_path, rng):
    pose = _pose(rng, 17)
    path = tmp_path / "bus.json"
    path.write_text(json.dumps([{
        "name": "person", "class": 0, "confidence": 0.88,
        "box": {"x1": 1.0, "y1": 2.0, "x2": 300.0, "y2": 400.0},
        "keypoints": {"x": pose[:, 0].tolist(), "y": pose[:, 1].tolist(), "visible": pose[:, 2].tolist()},
    }]))
    kf = read_ultralytics(path)
    _check(kf, 1, "coco", "ultralytics")
    np.testing.assert_allclose(kf.keypoints[0], pose, atol=1e-4)
    assert kf.image_ids == ["bus.json"]
    np.testing.assert_allclose(kf.scores, [0.88], rtol=1e-6)


def test_ultralytics_npy_dump(tmp_path, rng):
    data = rng.uniform(0, 600, (3, 17, 3))
    path = tmp_path / "kpts.npy"
    np.save(path, data)
    kf = read_ultralytics(path)
    _check(kf, 3, "coco", "ultralytics")
    np.testing.assert_allclose(kf.keypoints, data, rtol=1e-6)


# ------------------------------------------------------------ npy, npz, csv
def test_npy_shapes_and_layout_inference(tmp_path, rng):
    data = rng.uniform(0, 600, (4, 25, 2))
    data[0, 3] = np.nan
    path = tmp_path / "poses.npy"
    np.save(path, data)
    kf = read_npy(path)
    _check(kf, 4, "openpose25", "npy")
    np.testing.assert_allclose(kf.keypoints[..., :2], data, rtol=1e-6)
    # no confidence column: 1 where the point is finite, 0 where it is NaN
    assert kf.keypoints[0, 3, 2] == 0 and kf.keypoints[1:, :, 2].min() == 1
    single = read_npy(rng.uniform(0, 1, (33, 3)) * 100)
    _check(single, 1, "blazepose33", "npy")
    assert read_npy(data, layout="openpose25").image_ids == [0, 1, 2, 3]


def test_npy_17_is_coco_unless_layout_given(rng):
    data = rng.uniform(0, 600, (1, 17, 3))
    assert read_npy(data).layout == "coco"
    assert read_npy(data, layout="h36m").layout == "h36m"


def test_npz_with_scores_ids_size_and_layout(tmp_path, rng):
    keypoints, scores = rng.uniform(0, 600, (2, 17, 2)), rng.uniform(0, 1, (2, 17))
    path = tmp_path / "dump.npz"
    np.savez(path, keypoints=keypoints, scores=scores, bbox_scores=np.array([0.7, 0.2]),
             image_ids=np.array([10, 11]), image_size=np.array([1920, 1080]), layout=np.array("h36m"))
    kf = read_npy(path)
    _check(kf, 2, "h36m", "npz")
    np.testing.assert_allclose(kf.keypoints[..., 2], scores, rtol=1e-6)
    np.testing.assert_allclose(kf.scores, [0.7, 0.2], rtol=1e-6)
    assert kf.image_ids == [10, 11] and kf.image_size == (1920, 1080)


def test_plain_json_object_like_an_npz(tmp_path, rng):
    pose = _pose(rng, 17)
    path = tmp_path / "example_keypoints.json"
    path.write_text(json.dumps({"note": "one COCO-17 pose", "layout": "coco", "image_size": [1280, 720],
                                "keypoints": pose.tolist()}))
    kf = read_npy(path)
    _check(kf, 1, "coco", "json")
    np.testing.assert_allclose(kf.keypoints[0], pose, atol=1e-4)
    assert kf.image_size == (1280, 720) and kf.image_ids == [0]
    assert read_keypoints(path).format == "json"


def test_csv_with_header_and_id_column(tmp_path, rng):
    poses = [_pose(rng, 17) for _ in range(2)]
    names = get_layout("coco").names
    header = ["frame"] + [f"{n}_{c}" for n in names for c in ("x", "y", "score")]
    lines = [",".join(header)] + [",".join([str(f)] + [str(float(v)) for v in p.reshape(-1)]) for f, p in zip((4, 9), poses)]
    path = tmp_path / "poses.csv"
    path.write_text("\n".join(lines) + "\n")
    kf = read_csv(path)
    _check(kf, 2, "coco", "csv")
    np.testing.assert_allclose(kf.keypoints, np.stack(poses), atol=1e-4)
    assert kf.image_ids == [4, 9]


def test_csv_without_header_xy_pairs_and_missing_cells(tmp_path, rng):
    pose = rng.uniform(0, 600, (33, 2)).round(2)
    cells = [str(float(v)) for v in pose.reshape(-1)]
    cells[0] = cells[1] = ""  # the nose is missing
    path = tmp_path / "mp.csv"
    path.write_text(",".join(cells) + "\n" + ",".join(str(float(v)) for v in pose.reshape(-1)) + "\n")
    kf = read_csv(path)  # 66 values: only 33 x 2 fits a layout (22 x 3 does not)
    _check(kf, 2, "blazepose33", "csv")
    assert np.isnan(kf.keypoints[0, 0, :2]).all() and kf.keypoints[0, 0, 2] == 0
    np.testing.assert_allclose(kf.keypoints[1, :, :2], pose, atol=1e-4)
    assert (kf.keypoints[1, :, 2] == 1).all() and kf.image_ids == [0, 1]


def test_csv_image_names_without_header(tmp_path, rng):
    poses = [_pose(rng, 25) for _ in range(2)]
    lines = [";".join([f"img_{i}.jpg"] + [str(float(v)) for v in p.reshape(-1)]) for i, p in enumerate(poses)]
    path = tmp_path / "named.csv"
    path.write_text("\n".join(lines))
    kf = read_csv(path)  # semicolon separated, the first column holds names: ids, not a header
    _check(kf, 2, "openpose25", "csv")
    assert kf.image_ids == ["img_0.jpg", "img_1.jpg"]
    np.testing.assert_allclose(kf.keypoints, np.stack(poses), atol=1e-4)


def test_csv_layout_resolves_ambiguity(tmp_path, rng):
    values = rng.uniform(0, 100, 48).round(3)  # 16 x 3 (mpii) or 24 x 2 (smpl24)
    path = tmp_path / "row.csv"
    path.write_text(" ".join(str(float(v)) for v in values) + "\n")  # whitespace separated
    assert read_csv(path, layout="mpii").keypoints.shape == (1, 16, 3)
    smpl = read_csv(path, layout="smpl24")
    assert smpl.keypoints.shape == (1, 24, 3)
    np.testing.assert_allclose(smpl.keypoints[0, :, :2].reshape(-1), values, atol=1e-4)


def test_read_keypoints_image_size_is_recorded_and_checked(tmp_path, rng):
    data = rng.uniform(0, 600, (1, 17, 3))
    assert read_keypoints(data, image_size=(640, 480)).image_size == (640, 480)
    assert read_keypoints(data).image_size is None
