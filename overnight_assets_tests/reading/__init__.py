"""Tests of overnight_assets.reading."""
