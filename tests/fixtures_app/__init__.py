"""A small app for the command-line tests, importable as ``fixtures_app.shop``."""
