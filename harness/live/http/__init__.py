"""The harness's own HTTP endpoints of the live world (send API, document store, token)."""
