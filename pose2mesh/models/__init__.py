"""Networks of pose2mesh: PoseNet (2D -> 3D keypoints) and MeshNet (-> body mesh).

Conventions of every module here:

* Input: 2D keypoints in the canonical superset (:func:`pose2mesh.joints.to_superset`)
  with a presence channel (absent keypoints are masked, never zero-filled
  coordinates); the networks themselves take crop-normalised coordinates
  (:func:`normalize_keypoints`), :class:`Pose2MeshNet` takes pixels.
* Output: ROOT-RELATIVE 3D in METRES in OpenCV camera axes (x right, y down,
  z forward); root = the superset ``pelvis`` (index 0).

* :mod:`pose2mesh.models.normalize` -- :func:`normalize_keypoints`, :func:`camera_features`.
* :mod:`pose2mesh.models.posenet` -- :class:`GraphPoseNet`, :class:`MLPPoseNet`.
* :mod:`pose2mesh.models.meshnet` -- :class:`MeshNetConfig`, :class:`MeshNet`.
* :mod:`pose2mesh.models.lifter` -- :class:`Pose2MeshNet`, :class:`ModelConfig`,
  :func:`build_model`, presets ``default`` / ``mlp`` / ``paper`` / ``smoke``.
* :mod:`pose2mesh.models.flip` -- :func:`flip_test` (lift the mirror image too and
  average), :func:`mirror_permutation`.
* :mod:`pose2mesh.models.snap` -- :func:`snap_to_keypoints` (move a mesh onto exact
  2D keypoints), :func:`copied_keypoints`.

See ``docs/models.md``.
"""
from pose2mesh.models.flip import flip_test, mirror_permutation
from pose2mesh.models.lifter import (
    PRESETS,
    GraphPoseNetConfig,
    MLPPoseNetConfig,
    ModelConfig,
    Pose2MeshNet,
    build_model,
    count_parameters,
    model_config,
)
from pose2mesh.models.meshnet import MeshNet, MeshNetConfig
from pose2mesh.models.normalize import CAMERA_FEATURES, camera_features, normalize_keypoints
from pose2mesh.models.posenet import ROOT_INDEX, GraphPoseNet, MLPPoseNet
from pose2mesh.models.snap import SNAP_SIGMA, copied_keypoints, snap_to_keypoints

__all__ = [
    "normalize_keypoints",
    "camera_features",
    "CAMERA_FEATURES",
    "GraphPoseNet",
    "MLPPoseNet",
    "ROOT_INDEX",
    "MeshNet",
    "MeshNetConfig",
    "GraphPoseNetConfig",
    "MLPPoseNetConfig",
    "ModelConfig",
    "Pose2MeshNet",
    "build_model",
    "model_config",
    "count_parameters",
    "PRESETS",
    "flip_test",
    "mirror_permutation",
    "snap_to_keypoints",
    "copied_keypoints",
    "SNAP_SIGMA",
]
