"""Scripts that made the reference files in tests/expected/ (and the simulators they read)."""
