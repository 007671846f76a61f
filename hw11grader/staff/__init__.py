"""Course-staff commands: gradescope, batch, stats, written, explain and the builders. Each imports the engine, never the CLI or another staff module."""
