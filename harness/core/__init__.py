"""The core both worlds share: the plan, faults, the workload, the history and its
event vocabulary, digests and timing. It knows no world: nothing here imports the
simulation, the live tier or anything above them."""
