"""The C code of every op: ``C_OPS`` maps an op name to its emitter.

Contract with the scaffold (aotgraph/emit/c_module.py), per IR node
``{"op", "params", "inputs": [vid], "outputs": [vid]}``:

- ``emitter.shape(node, ins, outs, cx)`` returns C statements setting
  ``outs[k].ndim`` and ``outs[k].shape[...]`` from the inputs, failing with
  ``return ag_fail(err, AG_ERR_VALUE, ...)`` (message naming the op and the
  shapes) when the run-time shapes are incompatible.
- Then the scaffold allocates each ``outs[k].data`` (C-contiguous, strides
  from ``ag_set_contiguous``) unless ``emitter.view``.
- ``emitter.body(node, ins, outs, cx)`` returns C statements computing the
  outputs.  A *view* emitter's body sets ``outs[0].data`` and
  ``outs[0].strides`` itself: to alias an input (dimshuffle, reshape of a
  contiguous input, identity), or to workspace memory it allocated with
  ``ag_ws_alloc`` when aliasing is impossible (reshape of a non-contiguous
  input).  So a view output may alias an input, have any strides (0 and
  negative included) and live in the arena.
- ``emitter.inplace_ok``: input positions whose storage the output may
  reuse, *only* when that input is dead after the node, C-contiguous and of
  the output's dtype and run-time shape (elementwise loops read each element
  before writing the same position, and nothing else).
- ``ins``/``outs`` are ``ag_buffer`` lvalues (``"B[3]"``); in scope are
  ``ag_error *err``, ``ag_ws *ws`` and ``int nthreads``; code may
  ``return ag_fail(...)`` anywhere and declares its temporaries inside its
  own braces, with names ending in ``_``.
- ``cx`` provides ``var(vid) -> {"dtype", "shape"}`` and
  ``const_value(vid)`` (the numpy value of a constant input, else None).
  The emitters use their own dtype → C type table (``c_common.CTYPE``),
  which matches the ABI (bool is a 0/1 byte).

``C_PREAMBLE`` goes once at the top of each translation unit, and
``C_SUPPORT_FILES`` are the runtime_c/ files the kernels need (``.c`` files
are compiled into the module; headers are included by the preamble).
Modules built without BLAS define ``AG_BLAS_NONE`` (ag_blas.c then never
opens a library and always uses the built-in GEMM).

Where the kernels live: elementwise and casts in c_elemwise.py (the
``C_EXPR`` table that CUDA overrides row by row), fused_elementwise (with
its optional trailing reduction) in c_fused.py, reductions in c_reduce.py,
matmul/gemm in c_linalg.py, views in c_shape.py, constructors and joins in
c_construct.py, nnet ops in c_nnet.py, indexing in c_index.py; the C helpers
they call are in runtime_c/ag_kernels.h, ag_index.h and ag_blas.c.

>>> C_OPS["dimshuffle"].view, C_OPS["add"].view
(True, False)
"""

from __future__ import annotations

from aotgraph.emit.c_common import OpEmitter
from aotgraph.emit.c_construct import CONSTRUCT_C_OPS
from aotgraph.emit.c_elemwise import C_EXPR, ELEMENTWISE_C_OPS, scalar_expr
from aotgraph.emit.c_fused import FUSED_C_OPS
from aotgraph.emit.c_index import INDEX_C_OPS
from aotgraph.emit.c_linalg import LINALG_C_OPS
from aotgraph.emit.c_nnet import NNET_C_OPS
from aotgraph.emit.c_reduce import REDUCE_C_OPS
from aotgraph.emit.c_scan import SCAN_C_OPS
from aotgraph.emit.c_shape import SHAPE_C_OPS

C_OPS: dict = {
    **ELEMENTWISE_C_OPS,
    **FUSED_C_OPS,
    **REDUCE_C_OPS,
    **LINALG_C_OPS,
    **SHAPE_C_OPS,
    **CONSTRUCT_C_OPS,
    **NNET_C_OPS,
    **INDEX_C_OPS,
    **SCAN_C_OPS,
}


#: runtime_c/ files the kernels need compiled in or included.
C_SUPPORT_FILES = ["ag_math.h", "ag_kernels.h", "ag_index.h", "ag_blas.h", "ag_blas.c"]

#: included once per translation unit, before any op code.
C_PREAMBLE = """\
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ag_runtime.h"
#include "ag_math.h"
#include "ag_kernels.h"
#include "ag_index.h"
#include "ag_blas.h"
"""

__all__ = ["C_EXPR", "C_OPS", "C_PREAMBLE", "C_SUPPORT_FILES", "OpEmitter", "scalar_expr"]
