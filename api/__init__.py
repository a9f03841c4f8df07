"""HTTP API (issue: api)."""
