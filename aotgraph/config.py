"""Global settings (Theano's ``config``), read from the environment once."""

from __future__ import annotations

import os

from aotgraph.types import as_dtype


class Config:
    """``ag.config.floatX``: the dtype of constructors without an explicit one."""

    def __init__(self):
        value = as_dtype(os.environ.get("AOTGRAPH_FLOATX", "float32"), "AOTGRAPH_FLOATX")
        if value not in ("float32", "float64"):
            raise ValueError(f"AOTGRAPH_FLOATX: expected float32 or float64, got {value}")
        self._floatX = value

    @property
    def floatX(self) -> str:
        return self._floatX

    @floatX.setter
    def floatX(self, value):
        dtype = as_dtype(value, "config.floatX")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"config.floatX: expected float32 or float64, got {dtype}")
        self._floatX = dtype


config = Config()
