"""The simulated world: one event loop in virtual time, the case-system slot, faultable
SQLite storage, and the HTTP edges served in-process."""
