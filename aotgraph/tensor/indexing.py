"""Indexing: ``x[...]``, ``set_subtensor`` and ``inc_subtensor``."""

from __future__ import annotations

__all__: list = []
