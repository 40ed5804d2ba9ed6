"""The Sunday chain: ecosystem_watch -> evolution -> basal_ganglia, on weeks that end on Sunday."""
