"""Tests of overnight_assets.briefing."""
