"""Pipeline stages: one cross-cutting concern per module, composed in order in ``hub.app``."""
