"""The reading tests: a package, so its conftest is `reading.conftest` and never shadows the top one."""
