"""The national-day benchmark harness (``giamdinh bench national-day``) and its baselines."""
