"""The child side: copied WHOLE into the sandbox; imports nothing outside this folder (stdlib, numpy aside)."""
