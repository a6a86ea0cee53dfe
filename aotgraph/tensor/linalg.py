"""Linear-algebra builders over ``matmul`` (tensordot, outer, batched products)."""

from __future__ import annotations

__all__: list = []
