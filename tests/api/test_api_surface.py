"""The public surface of ``pose2mesh`` and the lightness of the lift path."""
import subprocess
import sys

import pose2mesh

PUBLIC = ["__version__", "lift", "Lifter", "LiftResult"]


def test_public_surface_is_pinned():
    assert pose2mesh.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(pose2mesh, name) is not None
    assert set(PUBLIC) <= set(dir(pose2mesh))
    from pose2mesh.api import Lifter, LiftResult, lift

    assert (pose2mesh.lift, pose2mesh.Lifter, pose2mesh.LiftResult) == (lift, Lifter, LiftResult)


def test_unknown_attribute_raises():
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'lfit'"):
        pose2mesh.lfit


def test_train_checkpoint_reexports_the_light_module():
    import pose2mesh.models.checkpoint as light
    import pose2mesh.train.checkpoint as train

    for name in light.__all__:
        assert getattr(train, name) is getattr(light, name)


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_is_light():
    assert _run("import pose2mesh, sys; print('torch' in sys.modules)") == "False"


HEAVY = ("anny", "smplx", "warp", "torch_geometric", "pose2mesh.data", "pose2mesh.train")


def test_lift_path_stays_light(tmp_path):
    # load a checkpoint (as from_pretrained does), lift and save: none of the heavy modules may be imported
    code = f"""
import sys
import numpy as np
import pose2mesh
from pose2mesh import Lifter
from pose2mesh._assets import asset_path
from pose2mesh.graph import load_hierarchy
from pose2mesh.models.checkpoint import save_checkpoint
from pose2mesh.examples import load_example
u = Lifter.untrained()
save_checkpoint(r"{tmp_path}/m.pt", {{"model_config": u.model.config.to_dict(), "model": u.model.state_dict(),
    "hierarchy_hash": load_hierarchy(asset_path("hierarchy_default.npz")).content_hash(),
    "body_hash": u.body.content_hash}})
e = load_example()
r = Lifter.from_checkpoint(r"{tmp_path}/m.pt")(e.keypoints, image_size=e.image_size)
r.save(r"{tmp_path}/m.obj"); r.save(r"{tmp_path}/m.json")
r.overlay()
print(",".join(m for m in {HEAVY!r} if m in sys.modules) or "none")
"""
    assert _run(code) == "none"
