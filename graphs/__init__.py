"""Precomputed assets (body model, mesh hierarchy) of pose2mesh, rebuilt by ``pose2mesh build-*`` commands."""
