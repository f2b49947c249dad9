"""Landmark models: the spec every model carries, the registry of shipped weights, runtimes."""
