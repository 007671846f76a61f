"""Hidden checks: run only at grading time (--all, batch, Gradescope); never shipped in the student kit."""
