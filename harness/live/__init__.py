"""The live world: a real service, a real broker, real HTTP, wall-clock time.

The harness plays the portal and the transport's edges (a private RabbitMQ node or
a given broker, its own HTTP server for the send API, the document store, the
catalogue and a token endpoint), starts the vendor's service as a command, and
records a history in the same vocabulary as the simulated world, so the same
checker judges it.
"""
