"""Ends the process it is imported in, with exit status 0."""

import os

os._exit(0)
