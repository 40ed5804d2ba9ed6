"""Tests of overnight_assets.resources."""
