"""Reports by audience: terminal, JSON, Gradescope, notebook."""
