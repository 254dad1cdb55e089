"""Layers: each owns its forward and its backward pass."""
