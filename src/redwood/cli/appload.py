"""Importing the user's App from ``MODULE:ATTRIBUTE`` for the commands that run their code."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import reduce
from typing import Any

import click

from redwood.app import App
from redwood.errors import ValidationError
from redwood.store.base import Store
from redwood.store.open import ENVIRONMENT_VARIABLE
from redwood.store.sqlite import SQLiteStore


def load_app(spec: str | None, database: str | None) -> App:
    """The App named by ``spec`` ("myapp:app", or "myapp:create_app" for a factory).

    ``database``, when given, is the database the app must use: an app built with ``App()``
    picks it up (it is exported as $REDWOOD_DATABASE_URL while the module loads); an app bound
    to another database is refused rather than silently run against the wrong one.
    """
    if not spec:
        raise click.UsageError(
            "No app given: name it as MODULE:ATTRIBUTE (e.g. myapp:app), as an argument or "
            "with --app, or set $REDWOOD_APP."
        )
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValidationError(
            f'Invalid app "{spec}": expected MODULE:ATTRIBUTE, e.g. "myapp:app" or '
            '"shop.orders:create_app".',
            app=spec,
        )
    # Like `python -m`, find modules in the current directory even when run as a script.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    with _database_environment(database):
        module = _import(module_name, spec)
        try:
            target = reduce(getattr, attribute.split("."), module)
        except AttributeError:
            raise ValidationError(
                f'Module "{module_name}" has no attribute "{attribute}" (app "{spec}"). Name '
                "the App object, or a function that returns one.",
                app=spec,
            ) from None
        # A factory (myapp:create_app) is called; anything else must be the App itself.
        app = target() if inspect.isfunction(target) or inspect.ismethod(target) else target
    if not isinstance(app, App):
        raise ValidationError(
            f'"{spec}" is {_kind(app)}, not a redwood.App. Name the App object (app = App()) '
            "or a function that returns one.",
            app=spec,
        )
    if database is not None:
        _check_database(app, spec, database)
    return app


def _import(module_name: str, spec: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        # Only a missing *target* module is a usage error; a missing import inside the user's
        # module is a bug in their code and keeps its traceback.
        if error.name is None or not (module_name + ".").startswith(error.name + "."):
            raise
        raise ValidationError(
            f'Cannot import module "{module_name}" for app "{spec}": {error}. Run the command '
            "from the directory that contains it, or add that directory to PYTHONPATH.",
            app=spec,
        ) from None


def _kind(value: object) -> str:
    if isinstance(value, type):
        return f"the class {value.__name__}"
    return f"a {type(value).__name__}"


@contextmanager
def _database_environment(database: str | None) -> Iterator[None]:
    if database is None:
        yield
        return
    previous = os.environ.get(ENVIRONMENT_VARIABLE)
    os.environ[ENVIRONMENT_VARIABLE] = database
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ENVIRONMENT_VARIABLE]
        else:
            os.environ[ENVIRONMENT_VARIABLE] = previous


def _check_database(app: App, spec: str, database: str) -> None:
    location = store_location(app.store)
    if location is None or _same_database(location, database):
        return
    raise ValidationError(
        f'The app "{spec}" uses the database "{location}", but --database asks for '
        f'"{database}". Build the App without a database (App()) so the command line chooses '
        "it, or drop --database.",
        app=spec, database=database,
    )


def store_location(store: Store) -> str | None:
    """Where ``store`` keeps its data: a file path or a URL (None when it does not say)."""
    if isinstance(store, SQLiteStore):
        return store.path
    for attribute in ("url", "dsn"):
        value = getattr(store, attribute, None)
        if isinstance(value, str):
            return value
    return None


def _same_database(location: str, database: str) -> bool:
    if "://" in database and not database.startswith("sqlite:"):
        return location == database
    path = database.removeprefix("sqlite:///").removeprefix("sqlite://")
    return os.path.realpath(path) == os.path.realpath(location)
