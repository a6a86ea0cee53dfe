"""Emitters: from the JSON IR to C (and CUDA) sources, with jinja2 templates.

:func:`~aotgraph.emit.c_module.emit_c_module` writes the file-level
scaffolding (entry points, buffers, constants, outputs); the op kernels come
from the table ``C_OPS`` in :mod:`aotgraph.emit.c_ops`.
"""
