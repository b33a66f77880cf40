"""The live world: a local Fiks IO on a real broker, driving a real service."""
