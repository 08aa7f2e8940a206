"""Inference backends: how the hub talks to a model, behind the ``InferenceBackend`` protocol."""
