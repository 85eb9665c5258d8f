"""Checks of the code's shape that run in CI beside the tests (import-linter contracts)."""
