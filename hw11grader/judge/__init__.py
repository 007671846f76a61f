"""Judging: checks, comparisons, the symbolic reader, the registry of checks and the runner."""
