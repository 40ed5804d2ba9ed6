"""Tests of overnight_assets.triage."""
