"""Widen a model's GraphPoseNet bottleneck without changing what it computes (Net2Net-style).

The graph PoseNet squeezes the keypoints through ``node_latent`` channels per
keypoint and a global code of ``latent`` numbers (docs/models.md). This makes
a model with a wider bottleneck (``--latent``, ``--node-latent``) that lifts
exactly as the given one did, so that training can go on from it: every new
unit gets small random input weights and zero output weights (its output is
multiplied by zeros, yet its weights get gradients: the new units start
"off" and learn). Everything else is copied.

    python experiments/widen_posenet.py graphs/model_default.pt --latent 512 --node-latent 32 --out wide.pt

Checks, before writing, that the widened model gives the same output as the
given one on random keypoints (to 1e-5 m).
"""
from __future__ import annotations

import argparse
import copy

import torch

from pose2mesh.models.checkpoint import load_checkpoint, load_model, save_checkpoint


def widen(state: dict, num_keypoints: int, latent: int, node_latent: int, std: float = 1e-2,
          generator: torch.Generator | None = None) -> dict:
    """A copy of a model ``state_dict`` with the PoseNet's bottleneck widened (module docstring).

    Args:
        state: the model's ``state_dict`` (keys ``posenet.to_node_latent.weight``, ...).
        num_keypoints: S, the keypoints of the PoseNet's layout.
        latent / node_latent: the new sizes (at least the old ones).
        std: standard deviation of the new units' input weights.

    Returns:
        The new ``state_dict``: ``to_node_latent (n', C)``, ``to_latent (L', S n')``,
        ``from_latent (S n', L')``, ``from_node_latent (C, n')``; biases to match.
    """
    p = "posenet."
    w1, b1 = state[p + "to_node_latent.weight"], state[p + "to_node_latent.bias"]  # (n, C), (n,)
    w2, b2 = state[p + "to_latent.weight"], state[p + "to_latent.bias"]  # (L, S n), (L,)
    w3, b3 = state[p + "from_latent.weight"], state[p + "from_latent.bias"]  # (S n, L), (S n,)
    w4 = state[p + "from_node_latent.weight"]  # (C, n)
    n, c, old_latent, s = w1.shape[0], w1.shape[1], w2.shape[0], num_keypoints
    if latent < old_latent or node_latent < n:
        raise SystemExit(f"can only widen: latent {old_latent} -> {latent}, node_latent {n} -> {node_latent}")
    rand = lambda *shape: std * torch.randn(*shape, generator=generator, dtype=w1.dtype)  # noqa: E731
    out = dict(state)
    # per keypoint: channels [0, n) are the old ones, [n, n') new (ReLU of random weights, read by nothing yet)
    nw1 = torch.cat([w1, rand(node_latent - n, c)])
    nb1 = torch.cat([b1, torch.zeros(node_latent - n, dtype=b1.dtype)])
    # to_latent reads (S, n') flattened: the old columns of each keypoint where they were, zeros for the new
    nw2 = torch.zeros(latent, s, node_latent, dtype=w2.dtype)
    nw2[:old_latent, :, :n] = w2.view(old_latent, s, n)
    nw2[old_latent:, :, :n] = rand(latent - old_latent, s, n)  # new latent units: random inputs ...
    nb2 = torch.cat([b2, torch.zeros(latent - old_latent, dtype=b2.dtype)])
    # from_latent writes (S, n'): the old rows where they were; new latent units are read with zero weights
    nw3 = torch.zeros(s, node_latent, latent, dtype=w3.dtype)
    nw3[:, :n, :old_latent] = w3.view(s, n, old_latent)
    nw3[:, n:, :old_latent] = rand(s, node_latent - n, old_latent)  # new channels: random inputs ...
    nb3 = torch.zeros(s, node_latent, dtype=b3.dtype)
    nb3[:, :n] = b3.view(s, n)
    nw4 = torch.cat([w4, torch.zeros(c, node_latent - n, dtype=w4.dtype)], 1)  # ... and zero outputs
    out.update({p + "to_node_latent.weight": nw1, p + "to_node_latent.bias": nb1,
                p + "to_latent.weight": nw2.view(latent, s * node_latent), p + "to_latent.bias": nb2,
                p + "from_latent.weight": nw3.view(s * node_latent, latent), p + "from_latent.bias": nb3.view(-1),
                p + "from_node_latent.weight": nw4})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an exported model or training checkpoint with a graph PoseNet")
    parser.add_argument("--latent", type=int, required=True, help="new global latent size")
    parser.add_argument("--node-latent", type=int, required=True, help="new per-keypoint latent channels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the new units' input weights")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    ckpt = load_checkpoint(args.model)
    config = copy.deepcopy(ckpt["model_config"])
    if config.get("posenet", "graph") != "graph":
        raise SystemExit("only a graph PoseNet has a bottleneck to widen")
    old, _ = load_model(args.model, device="cpu")
    state = widen(ckpt["model"], old.posenet.num_keypoints, args.latent, args.node_latent,
                  generator=torch.Generator().manual_seed(args.seed))
    config.setdefault("graph_posenet", {}).update(latent=args.latent, node_latent=args.node_latent)
    keep = {k: v for k, v in ckpt.items() if k not in ("model", "model_config", "optimizer", "scheduler", "best")}
    save_checkpoint(args.out, {**keep, "model_config": config, "model": state})
    new, _ = load_model(args.out, device="cpu")
    g = torch.Generator().manual_seed(1)
    xy = 200 + 300 * torch.rand(8, old.posenet.num_keypoints, 2, generator=g)
    presence = (torch.rand(8, old.posenet.num_keypoints, generator=g) > 0.3).float()
    K = torch.tensor([[900.0, 0, 350], [0, 900, 350], [0, 0, 1]])
    with torch.no_grad():
        a, b = old.eval()(xy, presence, K=K), new.eval()(xy, presence, K=K)
    gap = max((a[k] - b[k]).abs().max().item() for k in a)
    if gap > 1e-5:
        raise SystemExit(f"the widened model lifts differently (by {gap:.2e} m): not written correctly")
    print(f"wrote {args.out}: latent {args.latent}, node_latent {args.node_latent}; same output to {gap:.1e} m")


if __name__ == "__main__":
    main()
