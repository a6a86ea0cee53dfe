"""The ``scan`` op: a loop whose body is an inner graph.

One op covers Theano's scan and the reverse loops of its gradient.  Its
params hold everything about the loop as plain, hashable, JSON-friendly
values (see CONTRIBUTING.md, "The scan op", for the full description):

- ``seqs``: one ``(taps, dir, flip, prefix)`` per sequence read at each step;
- ``states``: one ``(taps, store)`` per recurrent state;
- ``nits``: one ``store`` per output that is not fed back;
- ``mitmots``: one ``(read_taps, write_taps, dir, flip, prefix)`` per
  accumulation buffer (what gradients of sequences and states flow into);
- ``n_nonseq``, ``until``, ``truncate_gradient``;
- ``inner``: the body, encoded by :func:`encode_inner`.

Outer inputs, in order: ``n_steps``; per sequence ``base`` then the prefix
array (when ``prefix != 0``) and the main array; per state its initial
value; per mitmot ``base`` then its prefix template (when ``prefix != 0``)
and main template; the non-sequences.  Outer outputs: per state its history
(``store="all"``, shape ``(n, *state)``) or final value (``"last"``); per
nit the same; per mitmot its prefix buffer (when ``prefix != 0``) and main
buffer; finally the number of steps executed (int64 scalar).

Position rule of sequence-like entities (sequences and mitmots) at step
``p``, tap ``k``: ``pos = base + dir * p + k + off`` with
``off = -min(min(taps), 0)``, taken from the end (``len - 1 - pos``) when
``flip``; the read array is the prefix rows followed by the main array.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.graph import Constant, Variable, toposort
from aotgraph.ops.base import OPS, Op, apply_op, register_op
from aotgraph.types import TensorType

#: Inline constants up to this many elements; larger ones are hoisted out
#: of the body into outer non-sequences (the IR stores them as blobs).
MAX_INLINE_CONSTANT = 64


# --- the encoding of the inner graph --------------------------------------


def _type_code(t):
    return (t.dtype, tuple(t.shape))


def encode_inner(inputs, outputs):
    """The body ``inputs -> outputs`` as nested tuples of plain values.

    ``(inputs, constants, nodes, outputs)``: ``inputs`` are ``(dtype,
    shape)``; ``constants`` are ``(dtype, shape, hex)`` with the
    little-endian C-order bytes in hex; ``nodes`` are ``(op_name, params,
    args, out_types)`` with ``params`` sorted ``(key, value)`` pairs;
    ``args`` and ``outputs`` are references: ``0..`` the inputs, then the
    constants, then each node's outputs in order.
    """
    refs = {v.uid: i for i, v in enumerate(inputs)}
    order = toposort(outputs, stop=inputs)
    consts = _collect_constants(order, outputs, refs)
    next_ref = len(inputs) + len(consts)
    nodes = []
    for node in order:
        args = []
        for v in node.inputs:
            if v.uid not in refs:
                raise AotgraphTypeError(
                    f"scan: internal error: the body reads {v!r}, which is neither an "
                    "inner input nor a constant"
                )
            args.append(refs[v.uid])
        for v in node.outputs:
            refs[v.uid] = next_ref
            next_ref += 1
        params = tuple(sorted(node.op.params.items()))
        outs = tuple(_type_code(v.type) for v in node.outputs)
        nodes.append((node.op.name, params, tuple(args), outs))
    for v in outputs:
        if v.uid not in refs:
            raise AotgraphTypeError(f"scan: internal error: body output {v!r} is unreachable")
    return (
        tuple(_type_code(v.type) for v in inputs),
        tuple(consts),
        tuple(nodes),
        tuple(refs[v.uid] for v in outputs),
    )


def _collect_constants(order, outputs, refs):
    """Constants the body reads (equal values once), numbered after the inputs."""
    n_inputs = len(refs)
    consts, by_signature = [], {}
    candidates = [v for node in order for v in node.inputs] + list(outputs)
    for v in candidates:
        if v.uid in refs or not isinstance(v, Constant):
            continue
        key = v.signature()
        if key not in by_signature:
            data = np.ascontiguousarray(v.data, dtype=v.data.dtype.newbyteorder("<"))
            by_signature[key] = len(consts)
            consts.append((v.type.dtype, tuple(v.type.shape), data.tobytes().hex()))
        refs[v.uid] = n_inputs + by_signature[key]
    return consts


@dataclass(frozen=True)
class InnerGraph:
    """A decoded body: free input variables and the outputs computed from them."""

    inputs: tuple
    outputs: tuple


@lru_cache(maxsize=512)
def decode_inner(inner) -> InnerGraph:
    """Variables for an encoded body (cached: equal encodings share one graph)."""
    in_codes, consts, nodes, outs = inner
    values = [Variable(TensorType(d, s), name=f"inner{i}") for i, (d, s) in enumerate(in_codes)]
    for dtype, shape, hexdata in consts:
        arr = np.frombuffer(bytes.fromhex(hexdata), dtype=np.dtype(dtype).newbyteorder("<"))
        values.append(Constant(arr.astype(dtype).reshape(shape), dtype=dtype))
    for name, params, args, out_types in nodes:
        if name not in OPS:
            import aotgraph.opt.ops  # noqa: F401  (ops the optimizer creates)
        node = apply_op(name, [values[a] for a in args], **dict(params))
        got = tuple(_type_code(v.type) for v in node.outputs)
        if got != tuple((d, tuple(s)) for d, s in out_types):
            raise AotgraphTypeError(
                f"scan: the encoded body says {name} gives {out_types}, its type rule says {got}"
            )
        values.extend(node.outputs)
    return InnerGraph(tuple(values[: len(in_codes)]), tuple(values[r] for r in outs))


# --- reading the params ---------------------------------------------------


@dataclass(frozen=True)
class SeqSpec:
    """A sequence-like entity: taps read (and for mitmots, written) per step."""

    taps: tuple
    dir: int
    flip: bool
    prefix: int  # 0: none, -1: one row without a leading axis, m > 0: first m rows

    @property
    def off(self):
        return -min(min(self.taps), 0)

    @property
    def span(self):
        return max(max(self.taps), 0) + self.off


@dataclass(frozen=True)
class MitmotSpec:
    read: tuple
    write: tuple
    dir: int
    flip: bool
    prefix: int

    @property
    def entity(self):
        return SeqSpec(tuple(self.read) + tuple(self.write), self.dir, self.flip, self.prefix)


@dataclass(frozen=True)
class StateSpec:
    taps: tuple
    store: str

    @property
    def single(self):
        """Initial value is one state (taps == (-1,)), not rows of states."""
        return tuple(self.taps) == (-1,)

    @property
    def depth(self):
        return -min(self.taps)


class Layout:
    """Where each part of a scan node lives among its outer inputs/outputs
    and its inner inputs/outputs."""

    def __init__(self, op):
        p = op.params
        self.seqs = [SeqSpec(*s) for s in p["seqs"]]
        self.states = [StateSpec(*s) for s in p["states"]]
        self.nits = list(p["nits"])
        self.mitmots = [MitmotSpec(*m) for m in p["mitmots"]]
        self.n_nonseq = p["n_nonseq"]
        self.until = p["until"]

    def split_outer_inputs(self, items):
        """``items`` (one per outer input) grouped:
        ``(n_steps, seqs, states, mitmots, nonseqs)``; each seq and mitmot is
        ``(base, prefix_or_None, main)``."""
        items = list(items)
        pos = 1
        seqs, mitmots = [], []
        for spec in self.seqs:
            k = 3 if spec.prefix else 2
            grp = items[pos : pos + k]
            seqs.append((grp[0], grp[1] if spec.prefix else None, grp[-1]))
            pos += k
        states = items[pos : pos + len(self.states)]
        pos += len(self.states)
        for spec in self.mitmots:
            k = 3 if spec.prefix else 2
            grp = items[pos : pos + k]
            mitmots.append((grp[0], grp[1] if spec.prefix else None, grp[-1]))
            pos += k
        nonseqs = items[pos : pos + self.n_nonseq]
        if pos + self.n_nonseq != len(items):
            raise AotgraphTypeError(
                f"scan: expected {pos + self.n_nonseq} outer inputs, got {len(items)}"
            )
        return items[0], seqs, states, mitmots, nonseqs

    def split_outer_outputs(self, items):
        """``(states, nits, mitmots, n_exec)``; each mitmot ``(prefix_or_None, main)``."""
        items = list(items)
        ns, nn = len(self.states), len(self.nits)
        states, nits = items[:ns], items[ns : ns + nn]
        pos, mitmots = ns + nn, []
        for spec in self.mitmots:
            if spec.prefix:
                mitmots.append((items[pos], items[pos + 1]))
                pos += 2
            else:
                mitmots.append((None, items[pos]))
                pos += 1
        return states, nits, mitmots, items[pos]

    def split_inner_inputs(self, items):
        """``(seq taps, state taps, mitmot reads, nonseqs)``, each a list of lists
        (nonseqs a flat list)."""
        items, pos = list(items), 0
        out = []
        for group in (
            [s.taps for s in self.seqs],
            [s.taps for s in self.states],
            [m.read for m in self.mitmots],
        ):
            lists = []
            for taps in group:
                lists.append(items[pos : pos + len(taps)])
                pos += len(taps)
            out.append(lists)
        out.append(items[pos:])
        return tuple(out)

    def split_inner_outputs(self, items):
        """``(state values, nit values, mitmot writes (list of lists), cond)``."""
        items = list(items)
        ns, nn = len(self.states), len(self.nits)
        pos, writes = ns + nn, []
        for m in self.mitmots:
            writes.append(items[pos : pos + len(m.write)])
            pos += len(m.write)
        cond = items[pos] if self.until else None
        return items[:ns], items[ns : ns + nn], writes, cond


def layout(op) -> Layout:
    return Layout(op)


def make_scan_op(*, seqs, states, nits, mitmots, n_nonseq, until, truncate_gradient, inner):
    """The scan :class:`~aotgraph.ops.base.Op` for these parts (normalized)."""
    return Op(
        "scan",
        seqs=tuple((tuple(t), int(d), bool(f), int(p)) for t, d, f, p in seqs),
        states=tuple((tuple(t), s) for t, s in states),
        nits=tuple(nits),
        mitmots=tuple((tuple(r), tuple(w), int(d), bool(f), int(p)) for r, w, d, f, p in mitmots),
        n_nonseq=int(n_nonseq),
        until=bool(until),
        truncate_gradient=int(truncate_gradient),
        inner=inner,
    )


# --- type rule ------------------------------------------------------------


def _int_scalar(t, what):
    if t.ndim != 0 or t.dtype not in (
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
    ):
        raise AotgraphTypeError(f"scan: {what} must be an integer scalar, got {t.short()}")


def _row_of(t, what):
    if t.ndim == 0:
        raise AotgraphTypeError(f"scan: {what} must have a leading (time) axis, got a scalar")
    return TensorType(t.dtype, t.shape[1:])


def _check_fits(have, want, what):
    """``have`` (an outer-derived type) must be usable where ``want`` is expected."""
    if (
        have.dtype != want.dtype
        or have.ndim != want.ndim
        or any(a is not None and b is not None and a != b for a, b in zip(have.shape, want.shape))
    ):
        raise AotgraphTypeError(f"scan: {what} has type {have.short()}, expected {want.short()}")


def _entity_row(pre, main, prefix, what):
    row = _row_of(main, what)
    if prefix == -1:
        _check_fits(pre, row, f"the initial value of {what}")
    elif prefix > 0:
        _check_fits(
            _row_of(pre, f"the initial rows of {what}"), row, f"a row of the initial rows of {what}"
        )
        if pre.shape[0] is not None and pre.shape[0] < prefix:
            raise ShapeError(
                f"scan: {what} needs {prefix} initial rows, its initial value has {pre.shape[0]}"
            )
    return row


def _check_arity(lay, body):
    """The body has the inputs and outputs the params describe."""
    n_in = sum(len(s.taps) for s in lay.seqs) + sum(len(s.taps) for s in lay.states)
    n_in += sum(len(m.read) for m in lay.mitmots) + lay.n_nonseq
    n_out = (
        len(lay.states) + len(lay.nits) + sum(len(m.write) for m in lay.mitmots) + int(lay.until)
    )
    if (len(body.inputs), len(body.outputs)) != (n_in, n_out):
        raise AotgraphTypeError(
            f"scan: the body has {len(body.inputs)} inputs and {len(body.outputs)} outputs; "
            f"the params describe {n_in} and {n_out}"
        )


def _scan_infer(op, types):
    lay = Layout(op)
    body = decode_inner(op["inner"])
    _check_arity(lay, body)
    n_steps, seqs, states, mitmots, nonseqs = lay.split_outer_inputs(types)
    _int_scalar(n_steps, "n_steps")
    in_seq, in_state, in_mm, in_ns = lay.split_inner_inputs([v.type for v in body.inputs])
    out_state, out_nit, out_mm, cond = lay.split_inner_outputs([v.type for v in body.outputs])
    for k, (have, want) in enumerate(zip(nonseqs, in_ns)):
        _check_fits(have, want, f"non-sequence {k}")
    for i, ((base, pre, main), spec, inner) in enumerate(zip(seqs, lay.seqs, in_seq)):
        _int_scalar(base, f"the base index of sequence {i}")
        row = _entity_row(pre, main, spec.prefix, f"sequence {i}")
        for t in inner:
            _check_fits(row, t, f"a step of sequence {i}")
    result = []
    for j, (init, spec, inner, out) in enumerate(zip(states, lay.states, in_state, out_state)):
        row = (
            init
            if spec.single
            else _entity_row(
                init, TensorType(init.dtype, (None,) + init.shape[1:]), spec.depth, f"state {j}"
            )
        )
        for t in inner:
            _check_fits(row, t, f"the initial value of state {j}")
        _check_fits(out, inner[0], f"the new value of state {j}")
        result.append(_stored(inner[0], spec.store))
    result += [_stored(t, store) for t, store in zip(out_nit, lay.nits)]
    for q, ((base, pre, main), spec, reads, writes) in enumerate(
        zip(mitmots, lay.mitmots, in_mm, out_mm)
    ):
        _int_scalar(base, f"the base index of buffer {q}")
        row = _entity_row(pre, main, spec.prefix, f"buffer {q}")
        for t in list(reads) + list(writes):
            _check_fits(t, row, f"a step of buffer {q}")
        result += ([pre] if spec.prefix else []) + [main]
    if cond is not None and cond.ndim != 0:
        raise AotgraphTypeError(f"scan: the until condition must be a scalar, got {cond.short()}")
    return result + [TensorType("int64", ())]


def _stored(t, store):
    if store == "all":
        return TensorType(t.dtype, (None,) + tuple(t.shape))
    if store == "last":
        return t
    raise AotgraphTypeError(f"scan: store must be 'all' or 'last', got {store!r}")


# --- reference implementation ---------------------------------------------


def _virtual(pre, main, prefix):
    """The rows an entity reads: its prefix rows followed by the main array."""
    if prefix == 0:
        return main
    rows = pre[None] if prefix == -1 else pre[:prefix]
    return np.concatenate([rows.astype(main.dtype, copy=False), main], axis=0)


def _positions(spec, base, n, length, what):
    """Index function ``(p, k) -> row`` of an entity, after checking that
    every row it will touch in ``n`` steps exists."""

    def pos(p, k):
        q = base + spec.dir * p + k + spec.off
        return length - 1 - q if spec.flip else q

    if n:
        touched = [pos(p, k) for p in (0, n - 1) for k in spec.taps]
        if min(touched) < 0 or max(touched) >= length:
            raise ShapeError(
                f"scan: {what} has {length} rows, but {n} steps with taps "
                f"{list(spec.taps)} need rows {min(touched)}..{max(touched)}"
            )
    return pos


class _Loop:
    """State of one reference execution of a scan node."""

    def __init__(self, op, arrays):
        self.lay = lay = Layout(op)
        self.body = decode_inner(op["inner"])
        n_steps, seqs, states, mitmots, self.nonseqs = lay.split_outer_inputs(arrays)
        self.n = n = int(n_steps)
        if n < 0:
            raise ShapeError(
                f"scan: the number of steps must be >= 0, got {n} (is a sequence shorter "
                "than the span of its taps?)"
            )
        self.seqs = []
        for i, ((base, pre, main), spec) in enumerate(zip(seqs, lay.seqs)):
            rows = _virtual(pre, main, spec.prefix)
            self.seqs.append((rows, _positions(spec, int(base), n, len(rows), f"sequence {i}")))
        self.hists = [
            self._history(init, spec, j) for j, (init, spec) in enumerate(zip(states, lay.states))
        ]
        self.stores = [[] for _ in lay.states] + [[] for _ in lay.nits]
        self.bufs, self.buf_templates = [], []
        for q, ((base, pre, main), spec) in enumerate(zip(mitmots, lay.mitmots)):
            self.buf_templates.append(pre)
            rows = np.zeros_like(_virtual(pre, main, spec.prefix))
            self.bufs.append(
                (rows, _positions(spec.entity, int(base), n, len(rows), f"buffer {q}"))
            )

    @staticmethod
    def _history(init, spec, j):
        if spec.single:
            return [init]
        if len(init) < spec.depth:
            raise ShapeError(
                f"scan: state {j} has taps {list(spec.taps)} and needs {spec.depth} initial "
                f"rows, its initial value has {len(init)}"
            )
        return [init[r] for r in range(spec.depth)]

    def feed(self, p):
        """Inner input values of step ``p``."""
        lay, values = self.lay, []
        for (rows, pos), spec in zip(self.seqs, lay.seqs):
            values += [rows[pos(p, k)] for k in spec.taps]
        for hist, spec in zip(self.hists, lay.states):
            values += [hist[spec.depth + k] for k in spec.taps]
        for (rows, pos), spec in zip(self.bufs, lay.mitmots):
            values += [rows[pos(p, k)].copy() for k in spec.read]
        return values + list(self.nonseqs)

    def absorb(self, p, outs):
        """Store step ``p``'s results; True when the until condition holds."""
        new_states, nits, writes, cond = self.lay.split_inner_outputs(outs)
        for j, (value, hist) in enumerate(zip(new_states, self.hists)):
            if value.shape != hist[-1].shape:
                raise ShapeError(
                    f"scan: step {p}: the new value of state {j} has shape {value.shape}, "
                    f"but the state (its initial value) has shape {hist[-1].shape}"
                )
            hist.pop(0)
            hist.append(value)
            self.stores[j].append(value)
        for m, value in enumerate(nits):
            self.stores[len(self.hists) + m].append(value)
        for (rows, pos), spec, vals in zip(self.bufs, self.lay.mitmots, writes):
            for k, v in zip(spec.write, vals):
                rows[pos(p, k)] += v
        return cond is not None and bool(cond)

    def run(self):
        inner_in, inner_out = self.body.inputs, list(self.body.outputs)
        from aotgraph.function import interpret

        executed = 0
        for p in range(self.n):
            feed = {v.uid: a for v, a in zip(inner_in, self.feed(p))}
            executed = p + 1
            if self.absorb(p, interpret(inner_out, feed, "scan step")):
                break
        return executed

    def results(self, executed):
        lay, out = self.lay, []
        out_types = [v.type for v in self.body.outputs]
        kinds = [s.store for s in lay.states] + list(lay.nits)
        lasts = [h[-1] for h in self.hists] + [None] * len(lay.nits)
        for values, store, last, t in zip(self.stores, kinds, lasts, out_types):
            if store == "last":
                if last is None and not values:
                    raise ShapeError("scan: an output kept as its last value ran for 0 steps")
                out.append(values[-1] if values else last)
            elif values:
                out.append(np.stack(values))
            else:
                out.append(np.zeros((0,) + tuple(d or 0 for d in t.shape), t.dtype))
        for (rows, _), spec, pre in zip(self.bufs, lay.mitmots, self.buf_templates):
            out += _split_buffer(rows, spec.prefix, pre)
        return out + [np.array(executed, dtype=np.int64)]


def _split_buffer(rows, prefix, pre_template):
    """A mitmot buffer cut back into (prefix, main) shaped like its templates."""
    if prefix == 0:
        return [rows]
    if prefix == -1:
        return [rows[0], rows[1:]]
    pre = np.zeros(pre_template.shape, rows.dtype)
    pre[:prefix] = rows[:prefix]
    return [pre, rows[prefix:]]


def _scan_impl(op, *arrays):
    loop = _Loop(op, arrays)
    return tuple(loop.results(loop.run()))


def _scan_vjp(node, out_grads):
    from aotgraph.loops.grad import scan_vjp

    return scan_vjp(node, out_grads)


register_op(
    "scan",
    infer=_scan_infer,
    impl=_scan_impl,
    vjp=_scan_vjp,
    label=lambda op: (
        f"scan{{{len(op['seqs'])} seqs, {len(op['states'])} states, {len(op['nits'])} outputs"
        + (", until" if op["until"] else "")
        + "}"
    ),
    doc="a loop over an inner graph (Theano's scan); params describe taps, stores and the body",
)
