"""The demo-feed generator: a calibrated, deterministic demo city."""
