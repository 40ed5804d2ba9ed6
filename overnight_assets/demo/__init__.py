"""The demo: its bundled config and samples, and the dated inputs written for a night."""
