"""Replica pools: which replica of a model serves a call, and which replicas are fit to serve."""
