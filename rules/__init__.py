"""Rule packs (issue: rules)."""
