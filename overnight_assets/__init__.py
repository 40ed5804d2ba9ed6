"""overnight_assets: the overnight chain for a homelab, as Dagster software-defined assets."""
