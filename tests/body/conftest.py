"""Fixtures of the body-model tests.

``synthetic_smpl_dir`` is a folder laid out as ``smplx.create`` expects, with
synthetic (unlicensed) neutral SMPL and SMPL-H files written by
:func:`smpl_fixture.write_synthetic_smpl`; ``write_synthetic_smpl`` hands the
writer itself to tests that need other files (SMPL-X, other genders, ...).

Both skip the requesting test when ``smplx`` (the ``smpl`` extra) is not
installed; the helper is imported lazily so that the other body tests never
depend on it.
"""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def write_synthetic_smpl():
    """The writer :func:`smpl_fixture.write_synthetic_smpl`.

    Signature: ``(folder, model_type="smpl", gender="neutral", num_betas=10, *,
    ext=None, seed=0) -> Path`` of the file written under
    ``folder/<model_type>/``.
    """
    pytest.importorskip("smplx", reason="needs the 'smpl' extra (smplx)")
    from smpl_fixture import write_synthetic_smpl  # tests/body is on sys.path (rootdir conftest)

    return write_synthetic_smpl


@pytest.fixture(scope="session")
def synthetic_smpl_dir(tmp_path_factory, write_synthetic_smpl) -> Path:
    """Folder with ``smpl/SMPL_NEUTRAL.pkl`` and ``smplh/SMPLH_NEUTRAL.npz`` (synthetic)."""
    folder = tmp_path_factory.mktemp("smpl_models")
    write_synthetic_smpl(folder, "smpl")
    write_synthetic_smpl(folder, "smplh")
    return folder
