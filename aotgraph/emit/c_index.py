"""C emitters of the indexing ops: subtensor (a view), adv_subtensor (a
gather), inc_subtensor and adv_inc_subtensor (copy, then set or
accumulate like np.add.at).

The static index (``params["idx"]``, see ops/index.py) becomes straight-line
C that builds an ``ag_index_plan`` (runtime_c/ag_index.h) entry by entry,
reading symbolic ints and slice bounds from the index inputs; the
run-time helpers check bounds (IndexError naming the op, axis, index and
length) and place the advanced axes as numpy does.
"""

from __future__ import annotations

from aotgraph.emit.c_common import OpEmitter, as_tuple, params, read_scalar

_SYMBOLIC = "?"


def _entries(node, ndim):
    idx = [as_tuple(e) for e in as_tuple(params(node)["idx"])]
    used = sum(0 if e[0] == "newaxis" else (e[1] if e[0] == "mask" else 1) for e in idx)
    return idx + [("slice", None, None, None)] * (ndim - used)


def _adv_at(entries):
    """Result position of the advanced block (numpy's rule)."""
    advanced = any(e[0] in ("array", "mask") for e in entries)
    if not advanced:
        return 0
    is_adv = [e[0] in ("array", "mask", "int") for e in entries]
    first = is_adv.index(True)
    last = len(is_adv) - 1 - is_adv[::-1].index(True)
    if not all(is_adv[first : last + 1]):
        return 0
    return sum(1 for e in entries[:first] if e[0] in ("slice", "newaxis"))


_FAIL = "if (rc_) return rc_;"


def _entry_code(e, j, ax, x, value, advanced, where):
    """C statements adding index entry ``e`` (position ``j``, first x axis
    ``ax``) to plan ``P_``; ``value(c)`` renders a static or symbolic int,
    ``value.buffer()`` takes the next index input buffer."""
    kind = e[0]
    dims = f"{x}.shape[{ax}], {x}.strides[{ax}]"
    too_many = f'return ag_fail(err, AG_ERR_INDEX, "{where}: too many index arrays");'
    if kind == "int" and advanced:  # numpy checks it even when nothing is read
        return [
            f"int64_t iv{j}_ = {value(e[1])};",
            f'rc_ = ag_check_index(iv{j}_, {ax}, {x}.shape[{ax}], "{where}", err); {_FAIL}',
            f"ag_buffer ib{j}_; memset(&ib{j}_, 0, sizeof ib{j}_);",
            f"ib{j}_.data = &iv{j}_; ib{j}_.dtype = AG_INT64; ib{j}_.ndim = 0;",
            f"if (ag_index_array(&P_, &ib{j}_, {ax}, {dims})) {too_many}",
        ]
    if kind == "int":
        return [f'rc_ = ag_index_int(&P_, {value(e[1])}, {ax}, {dims}, "{where}", err); {_FAIL}']
    if kind == "slice":
        args = []
        for c in e[1:3]:
            args += ["0", "0"] if c is None else ["1", value(c)]
        step = "1" if e[3] is None else value(e[3])
        return [
            f'rc_ = ag_index_slice(&P_, {", ".join(args)}, {step}, {dims}, "{where}", err); {_FAIL}'
        ]
    if kind == "newaxis":
        return [f"if (ag_index_basic(&P_, 1, 0)) {too_many}"]
    if kind == "array":
        return [f"if (ag_index_array(&P_, &{value.buffer()}, {ax}, {dims})) {too_many}"]
    if kind == "mask":
        return [
            f'rc_ = ag_index_mask(&P_, &{value.buffer()}, &{x}, {ax}, ws, "{where}", err); {_FAIL}'
        ]
    raise NotImplementedError(f"C emitter: unknown index entry {e!r}")


class _IndexValues:
    """Reads the index inputs in order: symbolic ints and index arrays."""

    def __init__(self, index_ins, index_dtypes):
        self._inputs = iter(zip(index_ins, index_dtypes))

    def __call__(self, c):
        if c == _SYMBOLIC:
            buf, dt = next(self._inputs)
            return read_scalar(buf, dt)
        return f"((int64_t){int(c)}LL)"

    def buffer(self):
        return next(self._inputs)[0]


def plan_code(node, cx, x, index_ins, index_dtypes, where):
    """C statements building plan ``P_`` for indexing buffer ``x``."""
    entries = _entries(node, len(cx.var(node["inputs"][0])["shape"]))
    advanced = any(e[0] in ("array", "mask") for e in entries)
    value = _IndexValues(index_ins, index_dtypes)
    lines = ["ag_index_plan P_;", "ag_index_init(&P_);", "int rc_ = 0;"]
    ax = 0
    for j, e in enumerate(entries):
        lines += _entry_code(e, j, ax, x, value, advanced, where)
        ax += 0 if e[0] == "newaxis" else (e[1] if e[0] == "mask" else 1)
    # set_subtensor reports a bad value shape before bad indices (numpy's order)
    check = 0 if params(node).get("set") else 1
    lines.append(
        f'rc_ = ag_index_finish(&P_, {_adv_at(entries)}, {check}, "{where}", err); {_FAIL}'
    )
    return "\n    ".join(lines)


def _index_inputs(node, ins, cx, first):
    return ins[first:], [cx.var(v)["dtype"] for v in node["inputs"][first:]]


def _sub_shape(node, ins, outs, cx):
    idx_ins, idx_dt = _index_inputs(node, ins, cx, 1)
    out = outs[0]
    return "\n".join(
        [
            "{",
            "    " + plan_code(node, cx, ins[0], idx_ins, idx_dt, node["op"]),
            f"    {out}.ndim = P_.ndim;",
            f"    for (int d_ = 0; d_ < P_.ndim; d_++) {out}.shape[d_] = P_.shape[d_];",
            "}",
        ]
    )


def _sub_view_body(node, ins, outs, cx):
    idx_ins, idx_dt = _index_inputs(node, ins, cx, 1)
    x, out = ins[0], outs[0]
    return "\n".join(
        [
            "{",
            "    " + plan_code(node, cx, x, idx_ins, idx_dt, node["op"]),
            f"    {out}.data = (char *){x}.data + P_.base * (int64_t)ag_itemsize({x}.dtype);",
            f"    for (int d_ = 0; d_ < P_.ndim; d_++) {out}.strides[d_] = P_.xstride[d_];",
            "}",
        ]
    )


def _gather_body(node, ins, outs, cx):
    idx_ins, idx_dt = _index_inputs(node, ins, cx, 1)
    return "\n".join(
        [
            "{",
            "    " + plan_code(node, cx, ins[0], idx_ins, idx_dt, node["op"]),
            f'    rc_ = ag_index_gather(&P_, &{ins[0]}, &{outs[0]}, "{node["op"]}", err);',
            "    if (rc_) return rc_;",
            "}",
        ]
    )


def _inc_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    return (
        f"{out}.ndim = {x}.ndim;\n"
        f"for (int d_ = 0; d_ < {x}.ndim; d_++) {out}.shape[d_] = {x}.shape[d_];"
    )


def _inc_body(node, ins, outs, cx):
    idx_ins, idx_dt = _index_inputs(node, ins, cx, 2)
    x, y, out = ins[0], ins[1], outs[0]
    is_set = 1 if params(node).get("set") else 0
    return "\n".join(
        [
            "{",
            f"    if (ag_size(&{x}) > 0) ag_copy(&{out}, &{x});",
            "    " + plan_code(node, cx, out, idx_ins, idx_dt, node["op"]),
            f'    rc_ = ag_index_scatter(&P_, &{out}, &{y}, {is_set}, "{node["op"]}", err);',
            "    if (rc_) return rc_;",
            "}",
        ]
    )


INDEX_C_OPS = {
    "subtensor": OpEmitter(shape=_sub_shape, body=_sub_view_body, view=True),
    "adv_subtensor": OpEmitter(shape=_sub_shape, body=_gather_body),
    "inc_subtensor": OpEmitter(shape=_inc_shape, body=_inc_body),
    "adv_inc_subtensor": OpEmitter(shape=_inc_shape, body=_inc_body),
}
