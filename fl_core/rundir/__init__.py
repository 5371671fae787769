"""The run directory: writing, reading, checkpoint, client states, lock, atomic writes and column checks."""
