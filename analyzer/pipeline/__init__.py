"""Execution around the layers: the engine, workers, cache and the post-processing of findings."""
