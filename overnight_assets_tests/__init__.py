"""The tests of overnight_assets, a package mirroring it, and the test kit they share (testkit/)."""
