"""Locating and hashing the precomputed assets shipped in ``graphs/``.

Assets are plain ``.npz`` files (no pickle) whose arrays are covered by a
content hash stored in the file itself under the key ``content_hash``: the
sha256 of every other array's name, dtype, shape and bytes in sorted key
order.  Loading recomputes it, so an edited or truncated file is refused, and
a checkpoint can record the hash of the assets it was trained against.
"""
from __future__ import annotations

import hashlib
import io
import os
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

HASH_KEY = "content_hash"


def assets_dir() -> Path:
    """The folder holding the shipped assets.

    ``$POSE2MESH_ASSETS`` if set; else the repository's ``graphs/`` next to the
    package (editable install or source checkout); else the installed data
    package ``pose2mesh.graphs``.
    """
    if "POSE2MESH_ASSETS" in os.environ:
        return Path(os.environ["POSE2MESH_ASSETS"])
    source = Path(__file__).resolve().parent.parent / "graphs"
    if source.is_dir():
        return source
    return Path(str(resources.files("pose2mesh.graphs")))


def asset_path(name: str) -> Path:
    """Path of the shipped asset ``name`` (e.g. ``"body_default.npz"``); raises if absent."""
    path = assets_dir() / name
    if not path.is_file():
        raise FileNotFoundError(
            f"asset '{name}' not found in {path.parent}. It ships with pose2mesh; rebuild it with "
            f"the command in docs/ (e.g. `pose2mesh build-body` / `pose2mesh build-graphs`) or set "
            f"$POSE2MESH_ASSETS to the folder holding it."
        )
    return path


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 (hex) over ``arrays`` (except ``content_hash``) in sorted key order."""
    digest = hashlib.sha256()
    for key in sorted(k for k in arrays if k != HASH_KEY):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


#: Timestamp of every member of the zips we write: ``np.savez`` stamps the
#: current time, which would make rebuilt files differ byte for byte.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a standard ``.npz`` (read with ``np.load(allow_pickle=False)``) deterministically.

    Members are written in the given key order with a fixed timestamp, so the
    file bytes depend only on the arrays; the file appears atomically
    (temporary file + rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> str:
    """Write ``arrays`` plus their content hash to ``path`` (see :func:`write_npz`); returns the hash.

    Object arrays are refused so that files always load with ``allow_pickle=False``.
    """
    arrays = {k: np.asarray(v) for k, v in arrays.items() if k != HASH_KEY}
    for key, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array '{key}' has dtype object; use numeric or fixed-width string arrays")
    digest = content_hash(arrays)
    write_npz(path, {**arrays, HASH_KEY: np.array(digest)})
    return digest


def load_npz(path: str | Path) -> tuple[dict[str, np.ndarray], str]:
    """Load an asset written by :func:`save_npz`, verifying its content hash.

    Returns:
        ``(arrays, hash)``.

    Raises:
        ValueError: if the stored hash is missing or does not match the arrays.
    """
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    stored = str(arrays.pop(HASH_KEY, ""))
    actual = content_hash(arrays)
    if stored != actual:
        raise ValueError(
            f"{path}: content hash mismatch (stored {stored[:12] or 'none'}, computed {actual[:12]}); "
            "the file is corrupt or was edited. Rebuild it with its pose2mesh build command."
        )
    return arrays, actual
