"""Tests of overnight_assets.operations."""
