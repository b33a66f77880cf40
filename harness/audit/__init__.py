"""`harness audit`: the contract's checker on exports from a real pipeline, no simulation."""
