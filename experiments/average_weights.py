"""Average the weights of exported models of one architecture (uniform weight averaging).

Used for the shipped model's last step (docs/eval/default.md, stage 2i): the mean of
the weights of two consecutive stages of the CPU recipe, which share their lineage (the
later one was initialised from the earlier one), so their weights lie in one basin and
the mean is a model of its own, not a blend of unrelated networks.

    python experiments/average_weights.py model_2h.pt model_2i.pt --out graphs/model_default.pt

Floating-point tensors are averaged; integer buffers, the model configuration and the
asset hashes are taken from the last model, after checking that every model has the same
configuration, hashes and tensor names and shapes. The result is written atomically.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def average(paths: list[str]) -> dict:
    """The checkpoint dict of the last of ``paths`` with the mean of all their float weights."""
    ckpts = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    ref = ckpts[-1]
    for path, ckpt in zip(paths, ckpts):
        for key in ("model_config", "hierarchy_hash", "body_hash"):
            if ckpt.get(key) != ref.get(key):
                raise SystemExit(f"{path}: its {key} differs from {paths[-1]}'s; only one architecture can be averaged")
        shapes = {k: tuple(v.shape) for k, v in ckpt["model"].items()}
        if shapes != {k: tuple(v.shape) for k, v in ref["model"].items()}:
            raise SystemExit(f"{path}: its tensors differ from {paths[-1]}'s in names or shapes")
    state = {}
    for key, value in ref["model"].items():
        if value.is_floating_point():
            state[key] = torch.stack([c["model"][key] for c in ckpts]).mean(0)
        else:
            state[key] = value
    out = dict(ref)
    out["model"] = state
    out.pop("best", None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="exported models (pose2mesh export-model) of one architecture")
    parser.add_argument("--out", required=True, help="where to write the averaged model")
    args = parser.parse_args()
    if len(args.models) < 2:
        raise SystemExit("give at least two models to average")
    ckpt = average(args.models)
    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB), the mean of {len(args.models)} models")


if __name__ == "__main__":
    main()
