"""Scenarios as data: named workloads and fault schedules in TOML files."""
