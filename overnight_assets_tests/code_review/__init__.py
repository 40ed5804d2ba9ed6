"""Tests of overnight_assets.code_review."""
