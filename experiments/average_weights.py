"""Average the weights of exported models of one architecture (uniform weight averaging).

Used for the shipped model's last step (docs/eval/default.md, stages 2i and 2j): the mean
of the weights of consecutive stages of the CPU recipe, which share their lineage (each
was initialised from the one before), so their weights lie in one basin and the mean is
a model of its own, not a blend of unrelated networks.

    python experiments/average_weights.py model_2h.pt model_2i.pt model_2j.pt --out graphs/model_default.pt

Floating-point tensors are averaged; integer buffers, the model configuration and the
asset hashes are taken from the last model, after checking that every model has the same
configuration and hashes. The result is written atomically (``save_checkpoint``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pose2mesh.models.checkpoint import EXPORT_KEYS, load_checkpoint, save_checkpoint


def average(paths: list[str]) -> dict:
    """The checkpoint dict of the last of ``paths`` with the mean of all their float weights."""
    ckpts = [load_checkpoint(p) for p in paths]
    ref = ckpts[-1]
    for path, ckpt in zip(paths, ckpts):
        for key in ("model_config", "hierarchy_hash", "body_hash"):
            if ckpt.get(key) != ref.get(key):
                raise SystemExit(f"{path}: its {key} differs from {paths[-1]}'s; only one architecture can be averaged")
    state = {k: torch.stack([c["model"][k] for c in ckpts]).mean(0) if v.is_floating_point() else v
             for k, v in ref["model"].items()}
    kept = {k: ref[k] for k in EXPORT_KEYS if k in ref and k not in ("model", "best")}  # "best" scored ref alone
    return {**kept, "model": state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="exported models (pose2mesh export-model) of one architecture")
    parser.add_argument("--out", required=True, help="where to write the averaged model")
    args = parser.parse_args()
    if len(args.models) < 2:
        raise SystemExit("give at least two models to average")
    out = Path(args.out)
    save_checkpoint(out, average(args.models))
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB), the mean of {len(args.models)} models")


if __name__ == "__main__":
    main()
