"""Fixtures of the lift API tests.

``lifter``: the shipped default model when ``graphs/model_default.pt`` is
installed, else an untrained one (the mechanics tests do not depend on the
model's accuracy).  ``shipped_lifter``: the shipped model, or the test is
skipped (accuracy-dependent tests).
"""
import pytest

from pose2mesh._assets import assets_dir
from pose2mesh.api import DEFAULT_MODEL, Lifter


@pytest.fixture(scope="session")
def shipped_lifter():
    if not (assets_dir() / DEFAULT_MODEL).is_file():
        pytest.skip(f"needs the shipped model graphs/{DEFAULT_MODEL}")
    return Lifter.from_pretrained()


@pytest.fixture(scope="session")
def lifter():
    if (assets_dir() / DEFAULT_MODEL).is_file():
        return Lifter.from_pretrained()
    return Lifter.untrained()


@pytest.fixture(scope="session")
def example():
    from pose2mesh.examples import load_example

    return load_example("coco")
