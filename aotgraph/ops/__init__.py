"""Op families: each file registers the ops of one family (see ops/base.py)."""
