"""The C emitter of the scan op: the loop body runs as C inside the
compiled function, with no Python per step.

Everything that lives across steps is allocated once, before the loop,
from the call's workspace: a ring of ``depth`` rows per recurrent state, a
staging row per state kept as its last value, ``n`` rows per full history,
and the accumulation buffers (mitmots).  The body's temporaries come from a
per-step arena that is released at the end of every step (its block is
cached by the runtime, so steady-state steps do not call malloc); the arena
is declared with ``__attribute__((cleanup))`` so that an error returned from
inside the body releases it too.  The body's nodes are emitted by the same
emitters as the outer graph (``C_OPS``), over a local array of buffers.

The semantics are those of the reference implementation in
:mod:`aotgraph.ops.scan` (see CONTRIBUTING.md, "The scan op").
"""

from __future__ import annotations

from aotgraph.emit.c_common import CTYPE, OpEmitter, c_literal, params
from aotgraph.errors import BuildError


def _layout(node):
    from aotgraph.ops.base import Op
    from aotgraph.ops.scan import Layout

    op = Op("scan", **params(node))
    return op, Layout(op)


class BodyContext:
    """What the op emitters may ask about the body's variables (the same
    interface as the scaffold's EmitContext)."""

    def __init__(self, outer, array, inner):
        import numpy as np

        self.outer, self.array = outer, array
        in_codes, consts, nodes, _ = inner
        self.vars, self.consts = {}, {}
        ref = 0
        for dtype, shape in in_codes:
            self.vars[f"s{ref}"] = {"dtype": dtype, "shape": list(shape), "kind": "input"}
            ref += 1
        for dtype, shape, hexdata in consts:
            arr = np.frombuffer(bytes.fromhex(hexdata), dtype=np.dtype(dtype).newbyteorder("<"))
            self.consts[f"s{ref}"] = arr.astype(dtype).reshape(shape)
            self.vars[f"s{ref}"] = {"dtype": dtype, "shape": list(shape), "kind": "constant"}
            ref += 1
        self.nodes = []
        for name, node_params, args, out_types in nodes:
            outs = []
            for dtype, shape in out_types:
                self.vars[f"s{ref}"] = {"dtype": dtype, "shape": list(shape), "kind": "node"}
                outs.append(f"s{ref}")
                ref += 1
            self.nodes.append(
                {
                    "op": name,
                    "params": {k: v for k, v in node_params},
                    "inputs": [f"s{a}" for a in args],
                    "outputs": outs,
                }
            )
        self.size = max(ref, 1)

    def var(self, vid):
        return self.vars[vid]

    def ctype(self, dtype):
        return CTYPE[dtype]

    def dtype_code(self, dtype):
        return self.outer.dtype_code(dtype)

    def fresh(self, prefix="t"):
        return self.outer.fresh(prefix)

    def const_value(self, vid):
        return self.consts.get(vid)

    def buf(self, vid):
        return f"{self.array}[{vid[1:]}]"


# --- small C snippets -----------------------------------------------------


def _row_view(dst, src, q):
    """``dst`` = row ``q`` of ``src`` (a view)."""
    return (
        f"{dst} = {src}; {dst}.ndim = {src}.ndim - 1; "
        f"{dst}.data = (char *){src}.data + (int64_t)({q}) * {src}.strides[0] * "
        f"(int64_t)ag_itemsize({src}.dtype); "
        f"memmove({dst}.shape, {src}.shape + 1, sizeof(int64_t) * (AG_MAX_NDIM - 1)); "
        f"memmove({dst}.strides, {src}.strides + 1, sizeof(int64_t) * (AG_MAX_NDIM - 1));"
    )


def _alloc(buf, ws, what):
    return f'rc_ = agx_alloc_ws(&{buf}, {ws}, "{what}", err); if (rc_ != AG_OK) return rc_;'


def _same_shape_check(value, like, message, args):
    return (
        f"{{ int ok_ = {value}.ndim == {like}.ndim; "
        f"for (int ax_ = 0; ok_ && ax_ < {value}.ndim; ax_++) ok_ = {value}.shape[ax_] == {like}.shape[ax_]; "
        f'if (!ok_) {{ char a_[96], b_[96]; return ag_fail(err, AG_ERR_VALUE, "{message}"{args}, '
        f"ag_shape_text(&{value}, a_, sizeof a_), ag_shape_text(&{like}, b_, sizeof b_)); }} }}"
    )


def _int_scalar(buf, dtype):
    return f"((int64_t)*(const {CTYPE[dtype]} *){buf}.data)"


class _Emitter:
    """Generates the C of one scan node."""

    def __init__(self, node, ins, outs, cx):
        from aotgraph.emit.c_ops import C_OPS

        self.ops = C_OPS
        self.node, self.ins, self.outs, self.cx = node, ins, outs, cx
        self.op, self.lay = _layout(node)
        self.P = cx.fresh("scan")
        self.body = BodyContext(cx, f"{self.P}_S_", self.op["inner"])
        self.n_steps, self.seqs, self.inits, self.mitmots, self.nonseqs = (
            self.lay.split_outer_inputs(list(range(len(ins))))
        )
        self.out_states, self.out_nits, self.out_mm, self.out_exec = self.lay.split_outer_outputs(
            list(range(len(outs)))
        )
        self.in_seq, self.in_state, self.in_mm, self.in_ns = self.lay.split_inner_inputs(
            [f"s{i}" for i in range(len(self.op["inner"][0]))]
        )
        refs = [f"s{r}" for r in self.op["inner"][3]]
        self.o_states, self.o_nits, self.o_writes, self.o_cond = self.lay.split_inner_outputs(refs)

    def dtype_in(self, k):
        return self.cx.var(self.node["inputs"][k])["dtype"]

    def emit(self):
        P = self.P
        lines = [
            "{",
            "int rc_ = AG_OK; (void)rc_;",
            f"ag_ws *{P}_ows_ = ws;",
            f"const int64_t {P}_n_ = {_int_scalar(self.ins[0], self.dtype_in(0))};",
            f'if ({P}_n_ < 0) return ag_fail(err, AG_ERR_VALUE, "scan: the number of steps must '
            f'be >= 0, got %lld (is a sequence shorter than the span of its taps?)", (long long){P}_n_);',
            f"int64_t {P}_exec_ = 0;",
            f"ag_buffer {P}_S_[{self.body.size}];",
            f"memset({P}_S_, 0, sizeof {P}_S_);",
        ]
        lines += self.setup_entities()
        lines += self.setup_states()
        lines += self.setup_nits()
        lines += self.bind_invariants()
        lines += self.loop()
        lines += self.results()
        lines.append("}")
        return "\n".join(lines)

    # --- before the loop ------------------------------------------------------

    def _entities(self):
        """(name, spec, base input, prefix input, main input) of sequences and mitmots."""
        for i, ((b, pre, main), spec) in enumerate(zip(self.seqs, self.lay.seqs)):
            yield f"{self.P}_q{i}", spec, b, pre, main
        for q, ((b, pre, main), spec) in enumerate(zip(self.mitmots, self.lay.mitmots)):
            yield f"{self.P}_m{q}", spec.entity, b, pre, main

    def setup_entities(self):
        lines, P = [], self.P
        for name, spec, b, pre, main in self._entities():
            m = 0 if spec.prefix == 0 else (1 if spec.prefix == -1 else spec.prefix)
            lines.append(
                f"const int64_t {name}_base_ = {_int_scalar(self.ins[b], self.dtype_in(b))};"
            )
            lines.append(f"const int64_t {name}_len_ = {m} + {self.ins[main]}.shape[0];")
            if spec.prefix > 0:
                lines.append(
                    f"if ({self.ins[pre]}.shape[0] < {m}) return ag_fail(err, AG_ERR_VALUE, "
                    f'"scan: an initial value needs {m} rows, it has %lld", '
                    f"(long long){self.ins[pre]}.shape[0]);"
                )
            lines.append(f"if ({P}_n_ > 0) {{")
            for p in ("0", f"({P}_n_ - 1)"):
                for k in spec.taps:
                    pos = f"({name}_base_ + ({spec.dir}) * {p} + ({k}) + {spec.off})"
                    lines.append(
                        f"  if ({pos} < 0 || {pos} >= {name}_len_) return ag_fail(err, AG_ERR_VALUE, "
                        f'"scan: a sequence has %lld rows, but %lld steps with tap {k} need row %lld", '
                        f"(long long){name}_len_, (long long){P}_n_, (long long){pos});"
                    )
            lines.append("}")
        lines += self.setup_mitmot_buffers()
        return lines

    def setup_mitmot_buffers(self):
        lines, P = [], self.P
        for q, (_, _, main) in enumerate(self.mitmots):
            name, src = f"{P}_m{q}", self.ins[main]
            lines += [
                f"ag_buffer {name}_buf_ = {src}; {name}_buf_.shape[0] = {name}_len_;",
                _alloc(f"{name}_buf_", f"{P}_ows_", "scan: gradient buffer"),
                f"memset({name}_buf_.data, 0, (size_t)ag_size(&{name}_buf_) * ag_itemsize({src}.dtype));",
            ]
        return lines

    def setup_states(self):
        lines, P = [], self.P
        for j, (k, spec) in enumerate(zip(self.inits, self.lay.states)):
            init, name, depth = self.ins[k], f"{P}_r{j}", spec.depth
            lines.append(f"ag_buffer {name}_ring_ = {init};")
            if spec.single:
                lines.append(
                    f"{name}_ring_.ndim = {init}.ndim + 1; {name}_ring_.shape[0] = 1; "
                    f"for (int d_ = 0; d_ < {init}.ndim; d_++) {name}_ring_.shape[d_ + 1] = {init}.shape[d_];"
                )
            else:
                lines.append(
                    f'if ({init}.shape[0] < {depth}) return ag_fail(err, AG_ERR_VALUE, "scan: state {j} '
                    f"has taps {list(spec.taps)} and needs {depth} initial rows, its initial value has "
                    f'%lld", (long long){init}.shape[0]); {name}_ring_.shape[0] = {depth};'
                )
            lines.append(_alloc(f"{name}_ring_", f"{P}_ows_", "scan: state"))
            for r in range(depth):
                if spec.single:
                    lines.append(
                        f"{{ ag_buffer d_; {_row_view('d_', f'{name}_ring_', r)} "
                        f"ag_copy(&d_, &{init}); }}"
                    )
                else:
                    lines.append(
                        f"{{ ag_buffer d_, s_; {_row_view('s_', init, r)} "
                        f"{_row_view('d_', f'{name}_ring_', r)} ag_copy(&d_, &s_); }}"
                    )
            rows = f"{P}_n_" if spec.store == "all" else "1"
            lines += [
                f"ag_buffer {name}_hist_ = {name}_ring_; {name}_hist_.shape[0] = {rows};",
                _alloc(f"{name}_hist_", f"{P}_ows_", "scan: state history"),
            ]
        return lines

    def setup_nits(self):
        return [
            f"ag_buffer {self.P}_z{m}_hist_; memset(&{self.P}_z{m}_hist_, 0, sizeof(ag_buffer));"
            for m in range(len(self.lay.nits))
        ]

    def bind_invariants(self):
        """Constants and non-sequences, bound once."""
        lines, S = [], f"{self.P}_S_"
        for vid, arr in self.body.consts.items():
            dtype, cname = arr.dtype.name, f"{self.P}_c{vid[1:]}_"
            values = ", ".join(c_literal(v, dtype) for v in arr.reshape(-1).tolist()) or "0"
            lines.append(
                f"static const {CTYPE[dtype]} {cname}[{max(arr.size, 1)}] = {{ {values} }};"
            )
            lines.append(
                f"{S}[{vid[1:]}].data = (void *){cname}; {S}[{vid[1:]}].dtype = "
                f"{self.cx.dtype_code(dtype)}; {S}[{vid[1:]}].ndim = {arr.ndim};"
            )
            lines += [f"{S}[{vid[1:]}].shape[{d}] = {n};" for d, n in enumerate(arr.shape)]
            lines.append(f"ag_set_contiguous(&{S}[{vid[1:]}]);")
        for k, vid in zip(self.nonseqs, self.in_ns):
            lines.append(f"{self.body.buf(vid)} = {self.ins[k]};")
        return lines

    # --- the loop ----------------------------------------------------------------

    def loop(self):
        P = self.P
        lines = [
            f"for (int64_t p_ = 0; p_ < {P}_n_; p_++) {{",
            f"ag_ws {P}_step_ __attribute__((cleanup(ag_ws_release)));",
            f"ag_ws_init(&{P}_step_);",
            "{",
            f"ag_ws *ws = &{P}_step_; (void)ws;",
        ]
        lines += self.feed()
        lines += self.run_body()
        lines += self.store()
        lines.append(f"{P}_exec_ = p_ + 1;")
        if self.o_cond is not None:
            cond = self.body.buf(self.o_cond)
            ctype = CTYPE[self.body.var(self.o_cond)["dtype"]]
            lines.append(f"if (*(const {ctype} *){cond}.data) break;")
        lines += ["}", "}"]
        return lines

    def _entity_row(self, name, spec, pre, main, tap, dst):
        pos = f"({name}_base_ + ({spec.dir}) * p_ + ({tap}) + {spec.off})"
        if spec.flip:
            pos = f"({name}_len_ - 1 - {pos})"
        m = 0 if spec.prefix == 0 else (1 if spec.prefix == -1 else spec.prefix)
        main_row = _row_view(dst, self.ins[main], f"{pos} - {m}")
        if spec.prefix == 0:
            return f"{{ {main_row} }}"
        pre_row = (
            f"{dst} = {self.ins[pre]};" if spec.prefix == -1 else _row_view(dst, self.ins[pre], pos)
        )
        return f"if ({pos} < {m}) {{ {pre_row} }} else {{ {main_row} }}"

    def feed(self):
        lines, P = [], self.P
        for i, ((_, pre, main), spec, phs) in enumerate(zip(self.seqs, self.lay.seqs, self.in_seq)):
            for k, vid in zip(spec.taps, phs):
                lines.append(self._entity_row(f"{P}_q{i}", spec, pre, main, k, self.body.buf(vid)))
        for j, (spec, phs) in enumerate(zip(self.lay.states, self.in_state)):
            for k, vid in zip(spec.taps, phs):
                lines.append(
                    _row_view(
                        self.body.buf(vid),
                        f"{P}_r{j}_ring_",
                        f"(p_ + {spec.depth} + ({k})) % {spec.depth}",
                    )
                )
        for q, (spec, phs) in enumerate(zip(self.lay.mitmots, self.in_mm)):
            name = f"{P}_m{q}"
            for k, vid in zip(spec.read, phs):
                lines.append(self._buffer_row(name, spec.entity, k, self.body.buf(vid)))
        return lines

    def _buffer_row(self, name, spec, tap, dst):
        pos = f"({name}_base_ + ({spec.dir}) * p_ + ({tap}) + {spec.off})"
        if spec.flip:
            pos = f"({name}_len_ - 1 - {pos})"
        return _row_view(dst, f"{name}_buf_", pos)

    def run_body(self):
        lines = []
        for i, node in enumerate(self.body.nodes):
            emitter = self.ops.get(node["op"])
            if emitter is None:
                raise BuildError(f"scan body: no C emitter for op {node['op']!r} (body node {i})")
            ins = [self.body.buf(v) for v in node["inputs"]]
            outs = [self.body.buf(v) for v in node["outputs"]]
            lines.append(f"/* body node {i}: {node['op']} */ {{")
            for vid, buf in zip(node["outputs"], outs):
                v = self.body.var(vid)
                lines.append(
                    f"{buf}.dtype = {self.cx.dtype_code(v['dtype'])}; {buf}.ndim = {len(v['shape'])};"
                )
            lines.append(emitter.shape(node, ins, outs, self.body) or "")
            if not getattr(emitter, "view", False):
                for buf in outs:
                    lines.append(_alloc(buf, "ws", f"scan body: {node['op']} (node {i})"))
            lines.append(emitter.body(node, ins, outs, self.body) or "")
            lines.append("}")
        return lines

    def store(self):
        lines, P = [], self.P
        for j, (spec, vid) in enumerate(zip(self.lay.states, self.o_states)):
            name, value = f"{P}_r{j}", self.body.buf(vid)
            row = "p_" if spec.store == "all" else "0"
            lines.append(
                f"{{ ag_buffer h_; {_row_view('h_', f'{name}_hist_', row)} "
                + _same_shape_check(
                    value,
                    "h_",
                    f"scan: step %lld: the new value of state {j} "
                    "has shape %s, but the state has shape %s",
                    ", (long long)p_",
                )
                + " ag_copy(&h_, &"
                + value
                + "); }"
            )
        for m, (store, vid) in enumerate(zip(self.lay.nits, self.o_nits)):
            lines += self._store_nit(m, store, self.body.buf(vid))
        for q, (spec, vids) in enumerate(zip(self.lay.mitmots, self.o_writes)):
            for k, vid in zip(spec.write, vids):
                lines.append(
                    self._accumulate(
                        f"{P}_m{q}", spec.entity, k, self.body.buf(vid), self.body.var(vid)["dtype"]
                    )
                )
        for j, spec in enumerate(self.lay.states):
            name = f"{P}_r{j}"
            row = "p_" if spec.store == "all" else "0"
            lines.append(
                f"{{ ag_buffer h_, d_; {_row_view('h_', f'{name}_hist_', row)} "
                f"{_row_view('d_', f'{name}_ring_', f'p_ % {spec.depth}')} ag_copy(&d_, &h_); }}"
            )
        return lines

    def _store_nit(self, m, store, value):
        P, name = self.P, f"{self.P}_z{m}_hist_"
        rows = f"{P}_n_" if store == "all" else "1"
        return [
            f"if (p_ == 0) {{ {name} = {value}; {name}.ndim = {value}.ndim + 1; {name}.shape[0] = {rows}; "
            f"for (int d_ = 0; d_ < {value}.ndim; d_++) {name}.shape[d_ + 1] = {value}.shape[d_]; "
            + _alloc(name, f"{P}_ows_", "scan: output history")
            + " }",
            f"{{ ag_buffer h_; {_row_view('h_', name, 'p_' if store == 'all' else '0')} "
            + _same_shape_check(
                value,
                "h_",
                f"scan: step %lld: output {m} has shape %s, but it had shape %s at step 0",
                ", (long long)p_",
            )
            + f" ag_copy(&h_, &{value}); }}",
        ]

    def _accumulate(self, name, spec, tap, value, dtype):
        ct = CTYPE[dtype]
        return (
            f"{{ ag_buffer d_; {self._buffer_row(name, spec, tap, 'd_')} "
            + _same_shape_check(
                value,
                "d_",
                "scan: step %lld: a gradient of shape %s does not fit its buffer row of shape %s",
                ", (long long)p_",
            )
            + f" const {ct} *s_ = (const {ct} *){value}.data; "
            f"if (!ag_is_contiguous(&{value})) {{ ag_buffer c_ = {value}; "
            + _alloc("c_", "ws", "scan: gradient")
            + f" ag_copy(&c_, &{value}); s_ = (const {ct} *)c_.data; }} "
            f"{ct} *t_ = ({ct} *)d_.data; const int64_t sz_ = ag_size(&d_); "
            f"for (int64_t i_ = 0; i_ < sz_; i_++) t_[i_] += s_[i_]; }}"
        )

    # --- after the loop --------------------------------------------------------

    def results(self):
        lines, P = [], self.P
        for j, (spec, o) in enumerate(zip(self.lay.states, self.out_states)):
            out, name = self.outs[o], f"{P}_r{j}"
            if spec.store == "all":
                lines.append(
                    f"{out} = {name}_hist_; {out}.shape[0] = {P}_exec_; ag_set_contiguous(&{out});"
                )
            else:
                slot = f"({P}_exec_ - 1 + {spec.depth}) % {spec.depth}"
                lines.append(
                    f"{{ ag_buffer r_; {_row_view('r_', f'{name}_ring_', slot)} {out} = r_; }}"
                )
        for m, (store, o, vid) in enumerate(zip(self.lay.nits, self.out_nits, self.o_nits)):
            lines += self._nit_result(m, store, self.outs[o], self.body.var(vid))
        for q, ((_, pre, _), spec, (o_pre, o_main)) in enumerate(
            zip(self.mitmots, self.lay.mitmots, self.out_mm)
        ):
            lines += self._buffer_result(f"{P}_m{q}", spec, pre, o_pre, o_main)
        out = self.outs[self.out_exec]
        lines += [
            f"{out}.ndim = 0;",
            _alloc(out, f"{P}_ows_", "scan: step count"),
            f"*(int64_t *){out}.data = {P}_exec_;",
        ]
        return lines

    def _nit_result(self, m, store, out, var):
        P, name = self.P, f"{self.P}_z{m}_hist_"
        if store == "last":
            return [
                f'if ({P}_exec_ == 0) return ag_fail(err, AG_ERR_VALUE, "scan: an output kept '
                f'as its last value ran for 0 steps");',
                f"{{ ag_buffer r_; {_row_view('r_', name, '0')} {out} = r_; }}",
            ]
        dims = [f"{out}.shape[{d + 1}] = {n or 0};" for d, n in enumerate(var["shape"])]
        return [
            f"if ({P}_exec_ > 0) {{ {out} = {name}; {out}.shape[0] = {P}_exec_; "
            f"ag_set_contiguous(&{out}); }} else {{ {out}.data = NULL; {out}.shape[0] = 0; "
            + " ".join(dims)
            + f" ag_set_contiguous(&{out}); }}"
        ]

    def _buffer_result(self, name, spec, pre, o_pre, o_main):
        m = 0 if spec.prefix == 0 else (1 if spec.prefix == -1 else spec.prefix)
        lines, buf = [], f"{name}_buf_"
        main_out = self.outs[o_main]
        lines.append(
            f"{main_out} = {buf}; {main_out}.shape[0] = {buf}.shape[0] - {m}; "
            f"{main_out}.data = (char *){buf}.data + (int64_t){m} * {buf}.strides[0] * "
            f"(int64_t)ag_itemsize({buf}.dtype);"
        )
        if spec.prefix == -1:
            lines.append(
                f"{{ ag_buffer r_; {_row_view('r_', buf, '0')} {self.outs[o_pre]} = r_; }}"
            )
        elif spec.prefix > 0:
            out, template = self.outs[o_pre], self.ins[pre]
            lines += [
                f"{out} = {template};",
                _alloc(out, f"{self.P}_ows_", "scan: gradient of initial rows"),
                f"memset({out}.data, 0, (size_t)ag_size(&{out}) * ag_itemsize({out}.dtype));",
                f"memcpy({out}.data, {buf}.data, (size_t){m} * (size_t){buf}.strides[0] * "
                f"ag_itemsize({buf}.dtype));",
            ]
        return lines


def _scan_shape(node, ins, outs, cx):
    return ""


def _scan_body(node, ins, outs, cx):
    return _Emitter(node, ins, outs, cx).emit()


SCAN_C_OPS = {"scan": OpEmitter(shape=_scan_shape, body=_scan_body, view=True)}
