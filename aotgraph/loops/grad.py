"""Back-propagation through time: the VJP of the scan op is another scan.

The reverse loop runs over the stored forward states, last step first.  At
each step it rebuilds the forward body on the stored values, seeds it with
the adjoints of the step's outputs and differentiates it with
:func:`aotgraph.gradient.backprop`.  Adjoints flow into accumulation
buffers ("mitmots", Theano's name): one per state (read at the state's own
position, written at its taps; its prefix rows end up holding the gradient
of the initial value), one per sequence (written at the sequence's taps)
and one per forward buffer.  Non-sequence gradients are summed in
recurrent states.  Because the result is an ordinary scan node, it has a
gradient too (second order, Hessian-vector products).

``truncate_gradient = T > 0`` runs the reverse loop over the last ``T``
steps only: contributions of earlier steps are dropped, and the initial
states get a zero gradient unless the loop ran at most ``T`` steps.
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Constant, Variable, clone_replace
from aotgraph.loops.inner import build_body
from aotgraph.ops.base import apply_op
from aotgraph.ops.scan import Layout, SeqSpec, decode_inner, make_scan_op
from aotgraph.types import is_discrete


def _zeros_like(x):
    from aotgraph.gradient import zeros_like

    return zeros_like(x)


def _shift(base, direction, last, extra=0):
    """``base + direction * last + extra`` as an int64 scalar."""
    if isinstance(base, Constant) and int(base.data) == 0:
        value = last if direction == 1 else -last
    else:
        value = base + last if direction == 1 else base - last
    return value + extra if extra else value


def _clones(variables):
    return [Variable(v.type, name=v.name) for v in variables]


class _Reverse:
    """The parts of the reverse scan, collected in the op's layout order."""

    def __init__(self):
        self.seqs = []  # (spec tuple, [outer...], placeholders)
        self.states = []  # (init, placeholder, new value (set later))
        self.mitmots = []  # (spec tuple, [outer...], read placeholders, writes (set later))

    def seq(self, taps, direction, flip, prefix, base, pre, main, like):
        phs = _clones(like)
        outer = [base] + ([pre] if prefix else []) + [main]
        self.seqs.append(((tuple(taps), direction, flip, prefix), outer, phs))
        return phs

    def state(self, init, like):
        ph = Variable(like.type, name=like.name)
        self.states.append([init, ph, None])
        return ph, len(self.states) - 1

    def mitmot(self, read, write, direction, flip, prefix, base, pre, main, like):
        phs = _clones(like)
        outer = [base] + ([pre] if prefix else []) + [main]
        self.mitmots.append(
            [(tuple(read), tuple(write), direction, flip, prefix), outer, phs, None]
        )
        return phs, len(self.mitmots) - 1


def _forward_with_histories(node, lay):
    """``node``, or a sibling computing the same loop with every state's full
    history stored (the reverse loop reads them)."""
    if all(s.store == "all" for s in lay.states):
        return node
    params = dict(node.op.params)
    params["states"] = tuple((s.taps, "all") for s in lay.states)
    return apply_op("scan", list(node.inputs), **params)


def scan_vjp(node, out_grads):
    """Gradients of a scan node's inputs (see module doc)."""
    lay = Layout(node.op)
    if all(g is None for g in out_grads[:-1]):
        return [None] * len(node.inputs)
    fwd = _forward_with_histories(node, lay)
    n_exec = fwd.outputs[-1]
    last = n_exec - 1
    trunc = node.op["truncate_gradient"]
    if trunc > 0:
        from aotgraph.tensor.math import minimum

        n_rev = minimum(n_exec, np.int64(trunc))
    else:
        n_rev = n_exec
    rev = _Reverse()
    ctx = _Context(node, fwd, lay, rev, last)
    ctx.read_forward_inputs()
    seeds = ctx.seeds(out_grads)
    ctx.differentiate(seeds)
    out_node = ctx.build(n_rev)
    return ctx.input_grads(out_node)


class _Context:
    """Builds the reverse loop of one forward scan node."""

    def __init__(self, node, fwd, lay, rev, last):
        self.node, self.fwd, self.lay, self.rev, self.last = node, fwd, lay, rev, last
        self.body = decode_inner(node.op["inner"])
        _, self.seq_in, self.init_in, self.mm_in, self.nonseq_in = lay.split_outer_inputs(
            node.inputs
        )
        self.hist_out, _, self.mm_out, _ = lay.split_outer_outputs(fwd.outputs)
        self.in_seq, self.in_state, self.in_mm, self.in_ns = lay.split_inner_inputs(
            self.body.inputs
        )
        self.mapping = {}  # forward body input -> reverse-loop placeholder
        self.state_adjoints = {}  # forward state index -> reverse mitmot index
        self.buffer_adjoints = {}  # forward mitmot index -> reverse mitmot index
        self.seq_adjoints = {}  # forward sequence index -> reverse mitmot index
        self.nonseq_sums = {}  # forward non-sequence index -> reverse state index

    def read_forward_inputs(self):
        """Reverse-loop reads of everything the forward step read."""
        rev, lay, last = self.rev, self.lay, self.last
        for (base, pre, main), spec, phs in zip(self.seq_in, lay.seqs, self.in_seq):
            new = rev.seq(
                spec.taps,
                -spec.dir,
                spec.flip,
                spec.prefix,
                _shift(base, spec.dir, last),
                pre,
                main,
                phs,
            )
            self.mapping.update(zip(phs, new))
        for init, hist, spec, phs in zip(self.init_in, self.hist_out, lay.states, self.in_state):
            prefix = -1 if spec.single else spec.depth
            new = rev.seq(spec.taps, -1, False, prefix, last, init, hist, phs)
            self.mapping.update(zip(phs, new))
        for (base, _, _), (pre, main), spec, phs in zip(
            self.mm_in, self.mm_out, lay.mitmots, self.in_mm
        ):
            if not spec.read:
                continue
            extra = spec.entity.off - SeqSpec(spec.read, 1, False, 0).off
            new = rev.seq(
                spec.read,
                -spec.dir,
                spec.flip,
                spec.prefix,
                _shift(base, spec.dir, last, extra),
                pre,
                main,
                phs,
            )
            self.mapping.update(zip(phs, new))
        self.ns_placeholders = _clones(self.in_ns)
        self.mapping.update(zip(self.in_ns, self.ns_placeholders))

    def seeds(self, out_grads):
        """``(forward body output clone, adjoint)`` pairs of one reverse step."""
        lay, rev, last = self.lay, self.rev, self.last
        g_states, g_nits, g_mm, _ = lay.split_outer_outputs(out_grads)
        outs = clone_replace(list(self.body.outputs), self.mapping)
        o_states, o_nits, o_writes, _ = lay.split_inner_outputs(outs)
        self.o_states = o_states
        seeds = []
        stores = [s.store for s in lay.states] + list(lay.nits)
        for idx, (out, g, store) in enumerate(zip(o_states + o_nits, g_states + g_nits, stores)):
            adj = None
            if idx < len(o_states) and not is_discrete(out.dtype):
                spec = lay.states[idx]
                prefix = -1 if spec.single else spec.depth
                (ph,), q = rev.mitmot(
                    (0,),
                    spec.taps,
                    -1,
                    False,
                    prefix,
                    last,
                    self.init_in[idx],
                    self.hist_out[idx],
                    self.in_state[idx][:1],
                )
                self.state_adjoints[idx] = q
                adj = ph
            if g is not None:
                adj = _add(adj, self._outer_grad_read(g, store, out))
            if adj is not None:
                seeds.append((out, adj))
        seeds += self._buffer_seeds(o_writes, g_mm)
        return seeds

    def _outer_grad_read(self, g, store, like):
        if store == "all":
            (ph,) = self.rev.seq((0,), -1, False, 0, self.last, None, g, [like])
            return ph
        ph, i = self.rev.state(g, like)
        self.rev.states[i][2] = _zeros_like(ph)
        return ph

    def _buffer_seeds(self, o_writes, g_mm):
        seeds, rev, last = [], self.rev, self.last
        for q, ((base, _, _), (pre, main), spec, writes, g) in enumerate(
            zip(self.mm_in, self.mm_out, self.lay.mitmots, o_writes, g_mm)
        ):
            if is_discrete(main.dtype):
                continue
            adj = [None] * len(writes)
            if g[0] is not None or g[1] is not None:
                g_pre = None if pre is None else (g[0] if g[0] is not None else _zeros_like(pre))
                g_main = g[1] if g[1] is not None else _zeros_like(main)
                extra = spec.entity.off - SeqSpec(spec.write, 1, False, 0).off
                phs = rev.seq(
                    spec.write,
                    -spec.dir,
                    spec.flip,
                    spec.prefix,
                    _shift(base, spec.dir, last, extra),
                    g_pre,
                    g_main,
                    writes,
                )
                adj = [_add(a, b) for a, b in zip(adj, phs)]
            if spec.read:
                phs, idx = rev.mitmot(
                    spec.write,
                    spec.read,
                    -spec.dir,
                    spec.flip,
                    spec.prefix,
                    _shift(base, spec.dir, last),
                    self.mm_in[q][1],
                    self.mm_in[q][2],
                    writes,
                )
                self.buffer_adjoints[q] = idx
                adj = [_add(a, b) for a, b in zip(adj, phs)]
            seeds += [(w, a) for w, a in zip(writes, adj) if a is not None]
        return seeds

    def differentiate(self, seeds):
        """Reverse-loop outputs: adjoints written into the buffers, sums of
        non-sequence gradients carried in states."""
        from aotgraph.gradient import backprop

        lay, rev = self.lay, self.rev
        wrt = list(self.mapping.values())
        grads = backprop(seeds, wrt) if seeds else {}

        def grad_of(ph):
            g = grads.get(self.mapping[ph].uid)
            return g if g is not None else _zeros_like(self.mapping[ph])

        for j, q in self.state_adjoints.items():
            rev.mitmots[q][3] = [grad_of(ph) for ph in self.in_state[j]]
        for q, idx in self.buffer_adjoints.items():
            rev.mitmots[idx][3] = [grad_of(ph) for ph in self.in_mm[q]]
        for i, ((base, pre, main), spec, phs) in enumerate(zip(self.seq_in, lay.seqs, self.in_seq)):
            if is_discrete(main.dtype):
                continue
            _, q = rev.mitmot(
                (),
                spec.taps,
                -spec.dir,
                spec.flip,
                spec.prefix,
                _shift(base, spec.dir, self.last),
                pre,
                main,
                [],
            )
            rev.mitmots[q][3] = [grad_of(ph) for ph in phs]
            self.seq_adjoints[i] = q
        for k, (outer, ph) in enumerate(zip(self.nonseq_in, self.in_ns)):
            g = grads.get(self.mapping[ph].uid)
            if g is None or is_discrete(outer.dtype):
                continue
            acc, idx = rev.state(_zeros_like(outer), ph)
            rev.states[idx][2] = acc + g
            self.nonseq_sums[k] = idx

    def build(self, n_rev):
        """The reverse scan node."""
        rev = self.rev
        placeholders = [p for _, _, phs in rev.seqs for p in phs]
        placeholders += [s[1] for s in rev.states]
        placeholders += [p for m in rev.mitmots for p in m[2]]
        placeholders += self.ns_placeholders
        outputs = [s[2] for s in rev.states] + [w for m in rev.mitmots for w in m[3]]
        inner, extra_nonseqs = build_body(placeholders, outputs)
        op = make_scan_op(
            seqs=[spec for spec, _, _ in rev.seqs],
            states=[((-1,), "last")] * len(rev.states),
            nits=[],
            mitmots=[m[0] for m in rev.mitmots],
            n_nonseq=len(self.nonseq_in) + len(extra_nonseqs),
            until=False,
            truncate_gradient=-1,
            inner=inner,
        )
        outer = [n_rev] + [v for _, o, _ in rev.seqs for v in o] + [s[0] for s in rev.states]
        outer += [v for m in rev.mitmots for v in m[1]] + list(self.nonseq_in) + extra_nonseqs
        return apply_op("scan", outer, **op.params)

    def input_grads(self, out_node):
        """One gradient (or None) per input of the forward node."""
        lay = self.lay
        r_states, _, r_mm, _ = Layout(out_node.op).split_outer_outputs(out_node.outputs)
        seq_grads = [(None, None)] * len(lay.seqs)
        for i, q in self.seq_adjoints.items():
            seq_grads[i] = r_mm[q]
        init_grads = [None] * len(lay.states)
        for j, q in self.state_adjoints.items():
            init_grads[j] = r_mm[q][0]
        ns_grads = [None] * lay.n_nonseq
        for k, idx in self.nonseq_sums.items():
            ns_grads[k] = r_states[idx]
        grads = [None]
        for spec, (pre_g, main_g) in zip(lay.seqs, seq_grads):
            grads += [None] + ([pre_g] if spec.prefix else []) + [main_g]
        grads += init_grads
        for spec in lay.mitmots:
            grads += [None] * (3 if spec.prefix else 2)
        return grads + ns_grads


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b
