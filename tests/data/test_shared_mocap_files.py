"""Every file of the shared CMU mocap folder parses (skipped when ../shared/mocap is absent).

Parses headers and every motion row of all files (~235k frames; about 15 s on 2 cores)
and checks frame counts and skeleton ids against the folder's ``files.csv``.
"""
import csv
import time
from pathlib import Path

import numpy as np
import pytest

from pose2mesh.data import read_amc, read_asf, read_bvh
from pose2mesh.data.motion import find_asf_for_amc

MOCAP = Path(__file__).resolve().parents[2].parent / "shared" / "mocap"
pytestmark = pytest.mark.skipif(not MOCAP.is_dir(), reason=f"shared mocap folder not found at {MOCAP}")

SKELETON_IDS = {"cmu_asf_amc": "cmu_asf", "cmu_max_31joint": "cmu_3dsmax"}


def expected_table() -> dict:
    table = {}
    for f in MOCAP.rglob("files.csv"):
        with open(f, newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("frames"):
                    table[Path(row["file"]).name] = (int(row["frames"]), row["skeleton"])
    return table


def test_every_shared_file_parses():
    table = expected_table()
    files = sorted(p for p in MOCAP.rglob("*") if p.name.endswith((".bvh", ".bvh.gz", ".amc", ".amc.gz")))
    asf_files = sorted(p for p in MOCAP.rglob("*") if p.name.endswith((".asf", ".asf.gz")))
    assert len(files) >= 170 and asf_files
    t0 = time.perf_counter()
    skeletons = {p: read_asf(p) for p in asf_files}
    n_frames = 0
    for p in files:
        if ".bvh" in p.name:
            m = read_bvh(p)
        else:
            m = read_amc(p, skeletons[find_asf_for_amc(p)])
        n_frames += m.num_frames
        if p.name in table:
            frames, skel = table[p.name]
            assert m.num_frames == frames, p
            assert m.skeleton == SKELETON_IDS.get(skel, skel), p
        assert np.isfinite(m.root_positions).all()
        # Units sanity: a human between 1.2 and 2.3 m in the rest pose (metres everywhere).
        rest = m.replace(rotations=np.broadcast_to(np.eye(3, dtype=np.float32), (1, m.num_joints, 3, 3)),
                         root_positions=np.zeros((1, 3), np.float32))
        height = np.ptp(rest.global_positions()[0, :, 1])
        assert 0.8 < height < 2.3, (p, height)
    elapsed = time.perf_counter() - t0
    print(f"parsed {len(files)} motion + {len(asf_files)} ASF files, {n_frames} frames in {elapsed:.1f} s")
