"""Runnable examples: ``python -m examples.demo`` (or ``./dev demo``) is the main demo."""
