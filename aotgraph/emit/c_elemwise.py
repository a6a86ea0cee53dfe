"""C emitters of the elementwise ops, ``switch``, ``cast`` and the
optimizer's ``fused_elementwise``.

Scalar code comes from :data:`C_EXPR` (op → format per kind of computation
dtype); the CUDA emitter overrides only the rows that differ.  Placeholders:
``{0}``, ``{1}`` operands (already converted to the computation dtype),
``{t}`` the dtype tag of ag_kernels.h helpers, ``{f}`` the libm suffix
("f" for float32), ``{c}`` the C type.

Every elementwise node becomes one loop nest: the operands' strides are
aligned to the output (0 on broadcast axes), adjacent axes that all
operands walk as one are merged, and the work is split into tasks of up to
AG_BLOCK elements of the innermost axis, run by OpenMP above
AG_PAR_THRESHOLD elements.  When every operand's innermost stride is 1 the
task is a plain loop over ``restrict`` pointers that the compiler
vectorizes; otherwise a strided loop.  Operands that are one element
(static shape of ones) are loaded once per task, and scalar constants are
inlined as literals.
"""

from __future__ import annotations

import numpy as np

from aotgraph.emit.c_common import (
    CTYPE,
    TAG,
    OpEmitter,
    as_tuple,
    c_literal,
    convert,
    kind,
    params,
    shape_text_args,
    static_scalar,
)

_F = "{f}"

#: op -> {kind of the computation dtype: C format}
C_EXPR = {
    "neg": {"float": "(-{0})", "int": "ag_neg_{t}({0})"},
    "abs": {"float": "fabs{f}({0})", "int": "ag_abs_{t}({0})", "bool": "{0}"},
    "sign": {"float": "ag_sign_{t}({0})", "int": "ag_sign_{t}({0})"},
    "add": {"float": "({0} + {1})", "int": "ag_add_{t}({0}, {1})", "bool": "({0} | {1})"},
    "sub": {"float": "({0} - {1})", "int": "ag_sub_{t}({0}, {1})"},
    "mul": {"float": "({0} * {1})", "int": "ag_mul_{t}({0}, {1})", "bool": "({0} & {1})"},
    "true_div": {"float": "({0} / {1})"},
    "floor_div": {"float": "ag_floordiv_{t}({0}, {1})", "int": "ag_floordiv_{t}({0}, {1})"},
    "mod": {"float": "ag_mod_{t}({0}, {1})", "int": "ag_mod_{t}({0}, {1})"},
    "pow": {"float": "pow{f}({0}, {1})", "int": "ag_ipow_{t}({0}, {1}, &bad_)"},
    "maximum": {
        "float": "ag_max_{t}({0}, {1})",
        "int": "({0} > {1} ? {0} : {1})",
        "bool": "({0} | {1})",
    },
    "minimum": {
        "float": "ag_min_{t}({0}, {1})",
        "int": "({0} < {1} ? {0} : {1})",
        "bool": "({0} & {1})",
    },
    "exp": {"float": "ag_exp{f}({0})"},
    "exp2": {"float": "exp2{f}({0})"},
    "log": {"float": "ag_log{f}({0})"},
    "log2": {"float": "log2{f}({0})"},
    "log10": {"float": "log10{f}({0})"},
    "log1p": {"float": "ag_log1p{f}({0})"},
    "expm1": {"float": "ag_expm1{f}({0})"},
    "sqrt": {"float": "sqrt{f}({0})"},
    "sigmoid": {"float": "ag_sigmoid{f}({0})"},
    "softplus": {"float": "ag_softplus{f}({0})"},
    "erf": {"float": "ag_erf{f}({0})"},
    "erfc": {"float": "ag_erfc{f}({0})"},
    "floor": {"float": "floor{f}({0})", "int": "{0}", "bool": "{0}"},
    "ceil": {"float": "ceil{f}({0})", "int": "{0}", "bool": "{0}"},
    "round": {"float": "rint{f}({0})", "int": "{0}", "bool": "{0}"},  # half to even
    "trunc": {"float": "trunc{f}({0})", "int": "{0}", "bool": "{0}"},
    "sin": {"float": "sin{f}({0})"},
    "cos": {"float": "cos{f}({0})"},
    "tan": {"float": "tan{f}({0})"},
    "arcsin": {"float": "asin{f}({0})"},
    "arccos": {"float": "acos{f}({0})"},
    "arctan": {"float": "atan{f}({0})"},
    "arctan2": {"float": "atan2{f}({0}, {1})"},
    "sinh": {"float": "sinh{f}({0})"},
    "cosh": {"float": "cosh{f}({0})"},
    "tanh": {"float": "ag_tanh{f}({0})"},
    "arcsinh": {"float": "asinh{f}({0})"},
    "arccosh": {"float": "acosh{f}({0})"},
    "arctanh": {"float": "atanh{f}({0})"},
    "bitwise_and": {"int": "({0} & {1})", "bool": "({0} & {1})"},
    "bitwise_or": {"int": "({0} | {1})", "bool": "({0} | {1})"},
    "bitwise_xor": {"int": "({0} ^ {1})", "bool": "({0} ^ {1})"},
    "invert": {"int": "(~{0})", "bool": "(!{0})"},
}

#: comparisons: computed in the operands' common dtype, bool result
C_COMPARE = {"eq": "==", "neq": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

#: int64 against uint64 compared exactly (their common dtype is float64)
_MIXED_COMPARE = {
    "eq": "({0} >= 0 && (uint64_t){0} == {1})",
    "neq": "({0} < 0 || (uint64_t){0} != {1})",
    "lt": "({0} < 0 || (uint64_t){0} < {1})",
    "le": "({0} < 0 || (uint64_t){0} <= {1})",
    "gt": "({0} >= 0 && (uint64_t){0} > {1})",
    "ge": "({0} >= 0 && (uint64_t){0} >= {1})",
}

#: the same comparison with its operands swapped
_SWAPPED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

#: predicates on the operand's own dtype
C_PREDICATE = {
    "isnan": {"float": "(isnan({0}) != 0)", "int": "0", "bool": "0"},
    "isinf": {"float": "(isinf({0}) != 0)", "int": "0", "bool": "0"},
    "isfinite": {"float": "(isfinite({0}) != 0)", "int": "1", "bool": "1"},
}

#: logical ops work on truth values of any dtype
C_LOGICAL = {
    "logical_not": "(!({0}))",
    "logical_and": "(({0}) != 0 && ({1}) != 0)",
    "logical_or": "(({0}) != 0 || ({1}) != 0)",
    "logical_xor": "((({0}) != 0) != (({1}) != 0))",
}

#: ops whose C code may report a bad value (integer pow, negative exponent)
_FLAGGING = {("pow", "int")}
_BAD_VALUE_MESSAGE = "Integers to negative integer powers are not allowed."


def _format(fmt, args, dtype):
    return fmt.format(*args, t=TAG[dtype], f="f" if dtype == "float32" else "", c=CTYPE[dtype])


def _common_dtype(dtypes):
    name = np.result_type(*[np.dtype(d) for d in dtypes]).name
    return "float32" if name == "float16" else name


def scalar_expr(op, args, out_dtype, table=None):
    """C expression of elementwise ``op`` on ``args`` (``(expr, dtype)``
    pairs), giving a value of ``out_dtype``, with numpy's semantics.

    >>> scalar_expr("add", [("a", "int32"), ("b", "int64")], "int64")
    'ag_add_i64(((int64_t)(a)), b)'
    """
    table = C_EXPR if table is None else table
    exprs = [e for e, _ in args]
    dtypes = [d for _, d in args]
    if op == "cast":
        return convert(exprs[0], dtypes[0], out_dtype)
    if op == "switch":
        a = convert(exprs[1], dtypes[1], out_dtype)
        b = convert(exprs[2], dtypes[2], out_dtype)
        return f"(({exprs[0]}) ? {a} : {b})"
    if op in C_COMPARE:
        if set(dtypes) == {"int64", "uint64"}:
            pair = exprs if dtypes[0] == "int64" else exprs[::-1]
            mixed = op if dtypes[0] == "int64" else _SWAPPED.get(op, op)
            return _MIXED_COMPARE[mixed].format(*pair)
        common = _common_dtype(dtypes)
        conv = [convert(e, d, common) for e, d in args]
        return f"({conv[0]} {C_COMPARE[op]} {conv[1]})"
    if op in C_PREDICATE:
        return _format(C_PREDICATE[op][kind(dtypes[0])], exprs, dtypes[0])
    if op in C_LOGICAL:
        return C_LOGICAL[op].format(*exprs)
    rows = table.get(op)
    if rows is None:
        raise NotImplementedError(f"C emitter: no C code for elementwise op {op!r}")
    fmt = rows.get(kind(out_dtype))
    if fmt is None:
        raise NotImplementedError(
            f"C emitter: elementwise op {op!r} has no C code for dtype {out_dtype}"
        )
    conv = [convert(e, d, out_dtype) for e, d in args]
    return _format(fmt, conv, out_dtype)


def flags_bad(op, out_dtype) -> bool:
    return (op, kind(out_dtype)) in _FLAGGING


# --- the loop nest --------------------------------------------------------


def _operands(node, ins, cx):
    """Per input: ("const", literal) for inlined scalar constants,
    ("scalar", buffer) for single elements, ("column", buffer) for arrays of
    static length 1 on the last axis (a bias column: constant along the
    inner loop), ("array", buffer) otherwise."""
    result = []
    for vid, buf in zip(node["inputs"], ins):
        var = cx.var(vid)
        value = cx.const_value(vid)
        if value is not None and np.size(value) == 1:
            result.append(("const", c_literal(np.asarray(value).reshape(()).item(), var["dtype"])))
        elif static_scalar(var):
            result.append(("scalar", buf))
        elif var["shape"][-1] == 1:
            result.append(("column", buf))
        else:
            result.append(("array", buf))
    return result


def _loop_setup(out, ins, arrays, columns, ot):
    """Aligned, coalesced strides of the output and array operands, and
    the task split (AG_BLOCK elements of the innermost axis per task).
    ``unit_``: every array walks the inner axis with stride 1 and every
    column with stride 0 (checked at run time: coalescing may move axes)."""
    nops = 1 + len(arrays)
    unit = [
        f"st_[{k}][nd_ - 1] == {0 if i in columns else 1}" for k, i in enumerate(arrays, start=1)
    ]
    lines = [
        f"    int64_t sh_[AG_MAX_NDIM], st_[{nops}][AG_MAX_NDIM];",
        f"    int nd_ = {out}.ndim, bad_ = 0;",
        f"    for (int d_ = 0; d_ < nd_; d_++) sh_[d_] = {out}.shape[d_];",
        f"    ag_bcast_strides(&{out}, nd_, sh_, st_[0]);",
    ]
    lines += [
        f"    ag_bcast_strides(&{ins[i]}, nd_, sh_, st_[{k}]);"
        for k, i in enumerate(arrays, start=1)
    ]
    return lines + [
        f"    nd_ = ag_coalesce({nops}, nd_, sh_, st_);",
        "    int64_t inner_ = sh_[nd_ - 1], nouter_ = 1;",
        "    for (int d_ = 0; d_ < nd_ - 1; d_++) nouter_ *= sh_[d_];",
        "    int64_t nblk_ = (inner_ + AG_BLOCK - 1) / AG_BLOCK, ntask_ = nouter_ * nblk_;",
        "    int unit_ = " + " && ".join(["st_[0][nd_ - 1] == 1"] + unit) + ";",
        f"    {ot} *const o0_ = ({ot} *){out}.data;",
    ]


def _operand_loads(operands, in_dtypes):
    """Declarations before the loop, load expressions for the unit-stride
    and the strided loop, and the array operands ``(input, slot, ctype)``."""
    decls, unit, strided, arrays = [], [], [], []
    for i, (k, val) in enumerate(operands):
        ct = CTYPE[in_dtypes[i]]
        if k == "const":
            unit.append(val)
            strided.append(val)
        elif k == "scalar":
            decls.append(f"    const {ct} v{i}_ = *(const {ct} *){val}.data;")
            unit.append(f"v{i}_")
            strided.append(f"v{i}_")
        else:
            slot = len(arrays) + 1
            decls.append(f"    const {ct} *const p{i}_ = (const {ct} *){val}.data;")
            arrays.append((i, slot, ct))
            unit.append(f"x{i}_[0]" if k == "column" else f"x{i}_[i_]")
            strided.append(f"x{i}_[i_ * s{slot}_]")
    return decls, unit, strided, arrays


def _task_loop(nops, ot, arrays, unit_code, strided_code, red):
    stmts_u, res_u = unit_code
    stmts_s, res_s = strided_code
    lines = [
        "    for (int64_t t_ = 0; t_ < ntask_; t_++) {",
        f"        int64_t offs_[{nops}];",
        f"        ag_row_offsets({nops}, nd_, sh_, st_, t_ / nblk_, offs_);",
        "        int64_t lo_ = (t_ % nblk_) * AG_BLOCK;",
        "        int64_t hi_ = lo_ + AG_BLOCK < inner_ ? lo_ + AG_BLOCK : inner_;",
        f"        {ot} *restrict y_ = o0_ + offs_[0];",
    ]
    lines += [
        f"        const {ct} *restrict x{i}_ = p{i}_ + offs_[{s}]; (void)x{i}_;"
        for i, s, ct in arrays
    ]
    lines += ["        if (unit_) {", "            for (int64_t i_ = lo_; i_ < hi_; i_++) {"]
    lines += [f"                {s}" for s in stmts_u]
    lines += [
        f"                y_[i_] = {res_u};",
        "            }",
        "        } else {",
        "            const int64_t s0_ = st_[0][nd_ - 1];",
    ]
    lines += [
        f"            const int64_t s{s}_ = st_[{s}][nd_ - 1]; (void)s{s}_;" for _, s, _ in arrays
    ]
    lines.append("            for (int64_t i_ = lo_; i_ < hi_; i_++) {")
    lines += [f"                {s}" for s in stmts_s]
    lines += [f"                y_[i_ * s0_] = {res_s};", "            }", "        }", "    }"]
    # A parallel region costs its start-up even when its if() clause is
    # false, so small loops take a plain serial copy of the same loop.
    return (
        [
            "    if (nouter_ * inner_ >= AG_PAR_THRESHOLD && nthreads > 1) {",
            "    #pragma omp parallel for num_threads(nthreads) schedule(static)" + red,
        ]
        + lines
        + ["    } else {"]
        + lines
        + ["    }"]
    )


def emit_loop(cx, node, ins, out, in_dtypes, out_dtype, compute, label=None):
    """C code of the loop nest writing ``out`` from ``ins``.

    ``compute(loads) -> (statements, result_expr)`` builds the scalar code
    from the operand load expressions (one per input, of ``in_dtypes``).
    """
    label = label or node["op"]
    operands = _operands(node, ins, cx)
    ot = CTYPE[out_dtype]
    decls, unit, strided, arrays = _operand_loads(operands, in_dtypes)
    unit_code, strided_code = compute(unit), compute(strided)
    red = " reduction(|:bad_)" if any("bad_" in s for s in unit_code[0] + [unit_code[1]]) else ""
    columns = {i for i, (k, _) in enumerate(operands) if k == "column"}
    lines = ["{"] + _loop_setup(out, ins, [i for i, _, _ in arrays], columns, ot) + decls
    lines += _task_loop(1 + len(arrays), ot, arrays, unit_code, strided_code, red)
    if red:
        lines.append(
            f'    if (bad_) return ag_fail(err, AG_ERR_VALUE, "{label}: {_BAD_VALUE_MESSAGE}");'
        )
    lines += ["    (void)bad_; (void)unit_;", "}"]
    return "\n".join(lines)


def broadcast_shape_code(node, ins, out, cx, label=None):
    """Shape statements of a broadcasting node: numpy's rule at run time,
    with an error naming the op and the operands' shapes."""
    label = label or node["op"]
    nd = len(cx.var(node["outputs"][0])["shape"])
    n = len(ins)
    names = [f"s{i}_" for i in range(n)]
    decls, args = shape_text_args(ins, names)
    shapes_fmt = " ".join(["%s"] * n)
    ops = ", ".join(f"&{b}" for b in ins)
    return "\n".join(
        [
            "{",
            f"    const ag_buffer *ops_[{n}] = {{{ops}}};",
            "    int axis_ = 0;",
            f"    {out}.ndim = {nd};",
            f"    if (ag_broadcast_shapes({n}, ops_, {nd}, {out}.shape, &axis_) != 0) {{",
            f"        {decls}",
            f'        return ag_fail(err, AG_ERR_VALUE, "{label}: operands could not be broadcast '
            f'together with shapes {shapes_fmt} (output axis %d)", {args}, axis_);',
            "    }",
            "}",
        ]
    )


# --- emitters ---------------------------------------------------------------


def _dtypes(node, cx):
    ins = [cx.var(v)["dtype"] for v in node["inputs"]]
    return ins, cx.var(node["outputs"][0])["dtype"]


def _elementwise_body(node, ins, outs, cx):
    op = node["op"]
    in_dt, out_dt = _dtypes(node, cx)
    if op == "cast":
        out_dt = params(node).get("dtype", out_dt)

    def compute(loads):
        return [], scalar_expr(op, list(zip(loads, in_dt)), out_dt)

    return emit_loop(cx, node, ins, outs[0], in_dt, out_dt, compute)


def _elementwise_shape(node, ins, outs, cx):
    return broadcast_shape_code(node, ins, outs[0], cx)


ELEMENTWISE_EMITTER = OpEmitter(
    shape=_elementwise_shape, body=_elementwise_body, inplace_ok=(0, 1, 2)
)


def fused_steps_code(node, loads, in_dtypes):
    """Statements and result of a ``fused_elementwise`` node's steps."""
    steps = as_tuple(params(node)["steps"])
    n_in = len(in_dtypes)
    values = list(zip(loads, in_dtypes))
    stmts = []
    for j, (op, dtype, args) in enumerate(steps):
        expr = scalar_expr(op, [values[a] for a in args], dtype)
        stmts.append(f"const {CTYPE[dtype]} t{j}_ = {expr};")
        values.append((f"t{j}_", dtype))
    assert len(values) == n_in + len(steps)
    return stmts, values[-1][0]


def elementwise_emitters(op_names):
    """``{name: emitter}`` for elementwise ops (the table, switch, cast)."""
    return {name: ELEMENTWISE_EMITTER for name in op_names}


ELEMENTWISE_C_OPS = elementwise_emitters(
    sorted(set(C_EXPR) | set(C_COMPARE) | set(C_PREDICATE) | set(C_LOGICAL) | {"switch", "cast"})
)
