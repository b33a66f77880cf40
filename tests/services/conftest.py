"""The fixtures of blackbox_support.py, for the tests in this folder.

The helpers live in a module of their own name: a second module called `conftest`
would shadow the one in tests/ for every `from conftest import ...`."""

from blackbox_support import database, fiksio, queue, start_service

__all__ = ["database", "fiksio", "queue", "start_service"]
