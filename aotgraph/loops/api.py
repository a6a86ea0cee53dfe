"""``ag.scan`` and its helpers ``map``, ``reduce``, ``foldl``, ``foldr``.

``scan`` calls the user's step function once on symbolic placeholders,
checks what it returned against ``outputs_info``, turns the returned graph
into the body of one ``scan`` node (:mod:`aotgraph.ops.scan`) and returns
the node's outputs in Theano's layout.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.graph import Constant, SharedVariable, Variable, clone_replace, trace_str
from aotgraph.loops.inner import build_body
from aotgraph.ops.base import apply_op
from aotgraph.ops.scan import make_scan_op
from aotgraph.tensor.basic import as_tensor
from aotgraph.types import TensorType, is_discrete


class ScanUntil:
    """The early-exit condition a step function returns (Theano's ``until``)."""

    def __init__(self, condition):
        self.condition = as_tensor(condition)
        if self.condition.ndim != 0:
            raise AotgraphTypeError(
                f"scan_until: the condition must be a scalar, got {self.condition.type.short()} "
                f"(created at {trace_str(self.condition)})"
            )


def scan_until(condition):
    """Stop the loop after the step where ``condition`` is true; the step
    function returns ``(outputs, ag.scan_until(cond))``.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> limit = at.dscalar("limit")
    >>> powers, _ = ag.scan(lambda p, m: (p * 2, ag.scan_until(p * 2 > m)),
    ...                     outputs_info=at.constant(1.0), non_sequences=limit, n_steps=100)
    >>> powers.eval({limit: 45.0})
    array([ 2.,  4.,  8., 16., 32., 64.])
    """
    return ScanUntil(condition)


until = scan_until


def fn_location(fn) -> str:
    """``file:line`` where the user's step function is defined."""
    code = getattr(fn, "__code__", None)
    if code is None:
        code = getattr(getattr(fn, "func", None), "__code__", None)  # functools.partial
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


# --- normalizing the arguments --------------------------------------------


def _taps(value, where, negative):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = [value]
    try:
        taps = [int(t) for t in value]
    except (TypeError, ValueError):
        raise AotgraphTypeError(
            f"scan: {where} taps must be a list of ints, got {value!r}"
        ) from None
    if not taps or len(set(taps)) != len(taps):
        raise AotgraphTypeError(f"scan: {where} taps must be distinct ints, got {value!r}")
    if negative and max(taps) >= 0:
        raise AotgraphTypeError(
            f"scan: {where} taps must be negative (they read earlier steps), got {taps}"
        )
    return tuple(taps)


def _sequences(sequences):
    out = []
    for i, s in enumerate(_as_items(sequences)):
        taps = (0,)
        if isinstance(s, dict):
            if "input" not in s:
                raise AotgraphTypeError(f"scan: sequences[{i}] is a dict without 'input'")
            taps = _taps(s.get("taps", [0]), f"sequences[{i}]", negative=False)
            s = s["input"]
        x = as_tensor(s)
        if x.ndim == 0:
            raise AotgraphTypeError(
                f"scan: sequences[{i}] must have a leading (time) axis, got a scalar {x!r}"
            )
        out.append((x, taps))
    return out


def _outputs_info(outputs_info):
    """``[(initial or None, taps or None, weak)]`` per entry."""
    out = []
    for i, o in enumerate(_as_items(outputs_info)):
        taps = (-1,)
        if isinstance(o, dict):
            if o.get("initial") is None:
                out.append((None, None, False))
                continue
            taps = _taps(o.get("taps", [-1]), f"outputs_info[{i}]", negative=True)
            o = o["initial"]
        if o is None:
            out.append((None, None, False))
            continue
        x = as_tensor(o)
        weak = isinstance(x, Constant) and x.weak
        if weak:
            x = _weak_initial(x)
        if taps != (-1,) and x.ndim == 0:
            raise AotgraphTypeError(
                f"scan: outputs_info[{i}] has taps {list(taps)}; its initial value needs a "
                f"leading axis of at least {-min(taps)} rows, got a scalar"
            )
        out.append((x, taps, weak))
    return out


def _weak_initial(x):
    """A Python-number initial value starts as floatX (floats) or int64; it
    is re-typed to whatever the step function then returns."""
    from aotgraph.config import config

    dtype = config.floatX if x.dtype.startswith("float") else x.dtype
    return Constant(x.data, dtype=dtype, weak=True)


def _as_items(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _state_type(init, taps):
    if taps == (-1,):
        return init.type
    return TensorType(init.dtype, init.type.shape[1:])


# --- calling the step function ----------------------------------------------


def _split_return(ret, where):
    """``(outputs, updates, until)`` from whatever the step function returned."""
    updates, cond = {}, None
    parts = list(ret) if isinstance(ret, tuple) else [ret]
    outs = []
    for part in parts:
        if isinstance(part, dict):
            updates.update(part)
        elif isinstance(part, ScanUntil):
            cond = part.condition
        else:
            outs.append(part)
    if len(outs) == 1 and isinstance(outs[0], (list, tuple)):
        outs = list(outs[0])
    result = []
    for i, o in enumerate(outs):
        if isinstance(o, (ScanUntil, dict)):
            raise AotgraphTypeError(
                f"scan: fn (defined at {where}) returned a nested {type(o).__name__}"
            )
        try:
            result.append(as_tensor(o))
        except AotgraphTypeError:
            raise AotgraphTypeError(
                f"scan: fn (defined at {where}) returned {type(o).__name__} {o!r} as output "
                f"{i}; expected symbolic variables, an updates dict and/or ag.scan_until(...)"
            ) from None
    return result, updates, cond


def _check_outputs(outs, infos, where):
    """Build-time check of the step function's outputs against ``outputs_info``;
    returns the indices of recurrent entries whose weak initial must be re-typed."""
    if infos and len(outs) != len(infos):
        raise AotgraphTypeError(
            f"scan: fn (defined at {where}) returned {len(outs)} output(s), but outputs_info "
            f"has {len(infos)} entries; return one output per entry (use None in outputs_info "
            "for outputs that are not fed back)"
        )
    retype = []
    for i, (out, (init, taps, weak)) in enumerate(zip(outs, infos)):
        if init is None:
            continue
        want = _state_type(init, taps)
        created = f"(output created at {trace_str(out)})"
        if out.ndim != want.ndim:
            raise AotgraphTypeError(
                f"scan: fn (defined at {where}) returned output {i} with ndim {out.ndim} "
                f"({out.type.short()}), but its state (outputs_info[{i}]) has ndim {want.ndim} "
                f"({want.short()}) {created}"
            )
        for axis, (a, b) in enumerate(zip(out.type.shape, want.shape)):
            if a is not None and b is not None and a != b:
                raise ShapeError(
                    f"scan: fn (defined at {where}) returned output {i} of shape "
                    f"{out.type.short()}, but its state (outputs_info[{i}]) has shape "
                    f"{want.short()} (axis {axis}: {a} vs {b}) {created}"
                )
        if out.dtype != want.dtype:
            if weak:
                retype.append(i)
                continue
            raise AotgraphTypeError(
                f"scan: fn (defined at {where}) returned output {i} of dtype {out.dtype}, but "
                f"its initial value (outputs_info[{i}]) has dtype {want.dtype}; make them "
                f"agree (e.g. .astype('{want.dtype}') in fn or on the initial value) {created}"
            )
    return retype


def _call_fn(fn, seqs, infos, nonseqs, where):
    seq_args = [
        Variable(TensorType(x.dtype, x.type.shape[1:]), name=f"{x.name or 'seq'}[t{k:+d}]")
        for x, taps in seqs
        for k in taps
    ]
    state_args = [
        Variable(_state_type(init, taps), name=f"state[t{k:+d}]")
        for init, taps, _ in infos
        if init is not None
        for k in taps
    ]
    ret = fn(*seq_args, *state_args, *nonseqs)
    outs, updates, cond = _split_return(ret, where)
    return seq_args, state_args, outs, updates, cond


def _retype_weak(infos, outs, indices):
    infos = list(infos)
    for i in indices:
        init, taps, _ = infos[i]
        infos[i] = (Constant(init.data, dtype=outs[i].dtype), taps, True)
    return infos


def _check_update(shared, value, where):
    if not isinstance(shared, SharedVariable):
        raise AotgraphTypeError(
            f"scan: fn (defined at {where}) returned updates for {shared!r}, which is not a "
            "shared variable"
        )
    value = as_tensor(value)
    if value.ndim != shared.ndim or (
        value.dtype != shared.dtype and not np.can_cast(value.dtype, shared.dtype, "same_kind")
    ):
        raise AotgraphTypeError(
            f"scan: fn (defined at {where}) updates shared variable {shared!r} "
            f"({shared.type.short()}) with {value.type.short()} (created at {trace_str(value)})"
        )
    return value.astype(shared.dtype) if value.dtype != shared.dtype else value


# --- the number of steps ----------------------------------------------------


def _n_steps(seqs, n_steps, where):
    from aotgraph.ops.shape import shape_i
    from aotgraph.tensor.math import minimum

    lengths = []
    for i, (x, taps) in enumerate(seqs):
        span = max(max(taps), 0) - min(min(taps), 0)
        static = x.type.shape[0]
        if static is not None and static < span:
            raise ShapeError(
                f"scan: sequences[{i}] has length {static}, too short for taps {list(taps)}"
            )
        lengths.append(static - span if static is not None else shape_i(x, 0) - span)
    if n_steps is not None:
        if isinstance(n_steps, (int, np.integer)) and not isinstance(n_steps, bool):
            lengths.append(int(n_steps))
        else:
            n = as_tensor(n_steps)
            if n.ndim != 0 or not is_discrete(n.dtype) or n.dtype == "bool":
                raise AotgraphTypeError(f"scan: n_steps must be an integer scalar, got {n!r}")
            lengths.append(n.astype("int64"))
    if not lengths:
        raise AotgraphTypeError(
            f"scan (fn defined at {where}): no information about the number of steps; give "
            "sequences or n_steps"
        )
    static = [v for v in lengths if isinstance(v, int)]
    symbolic = [v for v in lengths if not isinstance(v, int)]
    result = min(static) if static else None
    if result is not None and result < 0:
        raise ShapeError(f"scan (fn defined at {where}): n_steps must be >= 0, got {result}")
    for v in symbolic:
        v = v.astype("int64") if v.dtype != "int64" else v
        result = v if result is None else minimum(result, v)
    return as_tensor(np.int64(result)) if isinstance(result, int) else result


# --- scan ---------------------------------------------------------------------


def scan(
    fn,
    sequences=None,
    outputs_info=None,
    non_sequences=None,
    n_steps=None,
    go_backwards=False,
    truncate_gradient=-1,
    name=None,
    return_list=False,
    strict=False,
    mode=None,
    profile=False,
    allow_gc=None,
):
    """Loop ``fn`` over time, as Theano's ``scan``; returns ``(outputs, updates)``.

    ``fn`` receives, in order, one argument per tap of each sequence, one
    per tap of each recurrent output (entries of ``outputs_info`` that are
    not None) and the ``non_sequences``; it returns the outputs of one step
    (one per ``outputs_info`` entry), optionally a dict of shared-variable
    updates and ``ag.scan_until(cond)``.  ``outputs`` are full histories
    with a leading time axis (a list unless there is exactly one and
    ``return_list`` is false); ``updates`` maps each shared variable the
    loop updates to its value after the last step.  Shared and outer
    variables ``fn`` uses without passing them are found automatically
    (``strict=True`` makes that an error); expressions of them are computed
    once, outside the loop.  ``n_steps`` must be >= 0 (Theano's negative
    ``n_steps`` is ``go_backwards``).  ``mode``, ``name``, ``profile`` and
    ``allow_gc`` are accepted for Theano compatibility and ignored.

    >>> import numpy as np, aotgraph as ag, aotgraph.tensor as at
    >>> A, k = at.dvector("A"), at.lscalar("k")
    >>> powers, _ = ag.scan(lambda prev, A: prev * A, outputs_info=at.ones_like(A),
    ...                     non_sequences=A, n_steps=k)
    >>> powers.eval({A: [1.0, 2.0, 3.0], k: 3})
    array([[ 1.,  2.,  3.],
           [ 1.,  4.,  9.],
           [ 1.,  8., 27.]])
    """
    return _scan(
        fn,
        sequences,
        outputs_info,
        non_sequences,
        n_steps,
        go_backwards,
        truncate_gradient,
        return_list,
        store="all",
        strict=strict,
    )


def _scan(
    fn,
    sequences,
    outputs_info,
    non_sequences,
    n_steps,
    go_backwards,
    truncate_gradient,
    return_list,
    store,
    strict=False,
):
    where = fn_location(fn)
    if not callable(fn):
        raise AotgraphTypeError(f"scan: fn must be callable, got {fn!r}")
    if (
        not isinstance(truncate_gradient, (int, np.integer))
        or truncate_gradient == 0
        or truncate_gradient < -1
    ):
        raise AotgraphTypeError(
            f"scan: truncate_gradient must be -1 (no truncation) or a positive int, got {truncate_gradient!r}"
        )
    seqs = _sequences(sequences)
    infos = _outputs_info(outputs_info)
    nonseqs = [as_tensor(v) for v in _as_items(non_sequences)]
    seq_args, state_args, outs, updates, cond = _call_fn(fn, seqs, infos, nonseqs, where)
    if not infos:
        infos = [(None, None, False)] * len(outs)
    retype = _check_outputs(outs, infos, where)
    if retype:
        infos = _retype_weak(infos, outs, retype)
        seq_args, state_args, outs, updates, cond = _call_fn(fn, seqs, infos, nonseqs, where)
        for i in _check_outputs(outs, infos, where):
            raise AotgraphTypeError(
                f"scan: fn (defined at {where}) returns output {i} with a dtype that changes "
                f"with the dtype of its state (outputs_info[{i}] is a Python number); give "
                "outputs_info an explicit dtype"
            )
    pairs = [(s, _check_update(s, v, where)) for s, v in updates.items()]
    n = _n_steps(seqs, n_steps, where)
    node = _build_node(
        seqs,
        infos,
        seq_args,
        state_args,
        outs,
        pairs,
        cond,
        n,
        bool(go_backwards),
        int(truncate_gradient),
        store,
    )
    if strict:
        _check_strict(node, nonseqs + [s for s, _ in pairs], where)
    return _results(node, infos, pairs, return_list)


def _check_strict(node, passed, where):
    from aotgraph.graph import graph_inputs
    from aotgraph.ops.scan import Layout

    allowed = {v.uid for v in passed}
    n = Layout(node.op).n_nonseq
    hoisted = list(node.inputs[len(node.inputs) - n :]) if n else []
    for v in graph_inputs(hoisted, stop=passed):
        if v.uid not in allowed and not isinstance(v, Constant):
            raise AotgraphTypeError(
                f"scan (strict): fn (defined at {where}) uses {v!r} (created at {trace_str(v)}) "
                "without receiving it; pass it in non_sequences"
            )


def _build_node(
    seqs, infos, seq_args, state_args, outs, pairs, cond, n, backwards, truncate, store
):
    rec = [i for i, (init, _, _) in enumerate(infos) if init is not None]
    nit = [i for i, (init, _, _) in enumerate(infos) if init is None]
    upd_args = [Variable(s.type, name=s.name) for s, _ in pairs]
    body_out = [outs[i] for i in rec] + [v for _, v in pairs] + [outs[i] for i in nit]
    body_out += [cond] if cond is not None else []
    body_out = clone_replace(body_out, {s: a for (s, _), a in zip(pairs, upd_args)})
    inner, outer_nonseqs = build_body(seq_args + state_args + upd_args, body_out)
    op = make_scan_op(
        seqs=[(taps, 1, backwards, 0) for _, taps in seqs],
        states=[(infos[i][1], store) for i in rec] + [((-1,), "last") for _ in pairs],
        nits=[store] * len(nit),
        mitmots=[],
        n_nonseq=len(outer_nonseqs),
        until=cond is not None,
        truncate_gradient=truncate,
        inner=inner,
    )
    zero = as_tensor(np.int64(0))
    outer = [n]
    for x, _ in seqs:
        outer += [zero, x]
    outer += [infos[i][0] for i in rec] + [s for s, _ in pairs] + outer_nonseqs
    return apply_op("scan", outer, **op.params)


def _results(node, infos, pairs, return_list):
    rec = [i for i, (init, _, _) in enumerate(infos) if init is not None]
    nit = [i for i, (init, _, _) in enumerate(infos) if init is None]
    outs = [None] * len(infos)
    for slot, i in enumerate(rec):
        outs[i] = node.outputs[slot]
    for slot, i in enumerate(nit):
        outs[i] = node.outputs[len(rec) + len(pairs) + slot]
    updates = {s: node.outputs[len(rec) + j] for j, (s, _) in enumerate(pairs)}
    if len(outs) == 1 and not return_list:
        return outs[0], updates
    return outs, updates


# --- helpers ----------------------------------------------------------------


def map(
    fn,
    sequences,
    non_sequences=None,
    truncate_gradient=-1,
    go_backwards=False,  # noqa: A001
    mode=None,
    name=None,
):
    """``fn`` applied to each step of ``sequences`` (Theano's ``map``).

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> squares, _ = ag.map(lambda v: v * v, x)
    >>> squares.eval({x: [1.0, 2.0, 3.0]})
    array([1., 4., 9.])
    """
    return scan(
        fn,
        sequences,
        None,
        non_sequences,
        go_backwards=go_backwards,
        truncate_gradient=truncate_gradient,
    )


def reduce(
    fn,
    sequences,
    outputs_info,
    non_sequences=None,
    go_backwards=False,  # noqa: A001
    mode=None,
    name=None,
):
    """The last step of a scan (Theano's ``reduce``); only the final values
    are kept, no history.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> total, _ = ag.reduce(lambda v, acc: acc + v, x, at.constant(0.0))
    >>> float(total.eval({x: [1.0, 2.0, 3.0]}))
    6.0
    """
    return _scan(
        fn, sequences, outputs_info, non_sequences, None, go_backwards, -1, False, store="last"
    )


def foldl(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the first step to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False)


def foldr(fn, sequences, outputs_info, non_sequences=None, mode=None, name=None):
    """``reduce`` from the last step to the first.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> r, _ = ag.foldr(lambda v, acc: acc * 10 + v, x, at.constant(0.0))
    >>> float(r.eval({x: [1.0, 2.0, 3.0]}))
    321.0
    """
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True)
