"""The fixtures of blackbox_support.py, for the tests in this folder.

This folder is a package, so this file is `services.conftest`: a second module named
plain `conftest` would shadow tests/conftest.py for every `from conftest import ...`."""

from services.blackbox_support import database, fiksio, queue, start_service

__all__ = ["database", "fiksio", "queue", "start_service"]
