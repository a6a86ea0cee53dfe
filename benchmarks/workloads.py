"""The benchmark workloads (float32), each built for aotgraph and its peers.

A builder returns a zero-argument callable that runs the workload once, or
raises :class:`Missing` when the peer is not installed.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np


class Missing(Exception):
    """The peer is not installed."""


def need(module):
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise Missing(f"{module} not importable: {type(exc).__name__}") from None


@dataclass
class Workload:
    id: str
    title: str
    inner: int
    rounds: int
    peers: dict = field(default_factory=dict)


RNG = np.random.default_rng(0)


def f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- W1
W1_X, W1_Y = f32(16), f32(16)


def w1_aotgraph():
    import aotgraph as ag
    import aotgraph.tensor as at

    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], x + y)
    return lambda: f(W1_X, W1_Y)


def w1_numpy():
    return lambda: np.add(W1_X, W1_Y)


def w1_jax():
    jax = need("jax")
    f = jax.jit(lambda a, b: a + b)
    a, b = jax.device_put(W1_X), jax.device_put(W1_Y)
    return lambda: f(a, b).block_until_ready()


def w1_torch():
    torch = need("torch")
    a, b = torch.from_numpy(W1_X), torch.from_numpy(W1_Y)
    return lambda: torch.add(a, b)


def _pytensor_fn(inputs_outputs, mode):
    pytensor = need("pytensor")
    inputs, outputs, updates = inputs_outputs(pytensor)
    return pytensor.function(inputs, outputs, updates=updates, mode=mode)


def w1_pytensor(mode):
    def build():
        def graph(pytensor):
            import pytensor.tensor as pt

            x, y = pt.fvector("x"), pt.fvector("y")
            return [x, y], x + y, None

        f = _pytensor_fn(graph, mode)
        return lambda: f(W1_X, W1_Y)

    return build


# ---------------------------------------------------------------- W2
N2 = 10_000_000
_W2 = []


def w2_data():
    """The W2 inputs, made on first use (cold-start runs never pay for them)."""
    if not _W2:
        rng = np.random.default_rng(2)
        _W2.extend(rng.standard_normal(N2, np.float32) for _ in range(2))
    return _W2


W2_A, W2_B = np.float32(0.7), np.float32(0.1)


def w2_expr(mod, x, y, a, b, sigmoid):
    return mod.tanh(x * a + b) * sigmoid(y) + mod.log1p(mod.exp(-mod.abs(x)))


def w2_aotgraph():
    import aotgraph as ag
    import aotgraph.tensor as at

    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], w2_expr(at, x, y, 0.7, 0.1, at.nnet.sigmoid))
    X, Y = w2_data()
    return lambda: f(X, Y)


def w2_numpy():
    X, Y = w2_data()

    def run():
        return w2_expr(np, X, Y, W2_A, W2_B, lambda v: 1 / (1 + np.exp(-v)))

    return run


def w2_jax():
    jax = need("jax")
    import jax.numpy as jnp

    f = jax.jit(lambda x, y: w2_expr(jnp, x, y, W2_A, W2_B, jax.nn.sigmoid))
    x, y = (jax.device_put(a) for a in w2_data())
    return lambda: f(x, y).block_until_ready()


def w2_torch():
    torch = need("torch")
    x, y = (torch.from_numpy(a) for a in w2_data())
    return lambda: w2_expr(torch, x, y, 0.7, 0.1, torch.sigmoid)


def w2_pytensor(mode):
    def build():
        def graph(pytensor):
            import pytensor.tensor as pt

            x, y = pt.fvector("x"), pt.fvector("y")
            return [x, y], w2_expr(pt, x, y, W2_A, W2_B, pt.sigmoid), None

        f = _pytensor_fn(graph, mode)
        X, Y = w2_data()
        return lambda: f(X, Y)

    return build


# ---------------------------------------------------------------- W3 / W4 MLP
SIZES = (784, 512, 256, 10)
BATCH = 256
MLP_X = f32(BATCH, 784)
MLP_Y = RNG.integers(0, 10, BATCH).astype(np.int64)
MLP_W = [f32(a, b, scale=np.sqrt(2 / a)) for a, b in zip(SIZES[:-1], SIZES[1:])]
MLP_B = [np.zeros(b, np.float32) for b in SIZES[1:]]
LR = 0.01


def mlp_logits(mod, x, ws, bs, relu):
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w + b
        if i < len(ws) - 1:
            h = relu(h)
    return h


def w3_aotgraph():
    import aotgraph as ag
    import aotgraph.tensor as at

    x = at.fmatrix("x")
    ws = [ag.shared(w.copy()) for w in MLP_W]
    bs = [ag.shared(b.copy()) for b in MLP_B]
    f = ag.function([x], at.nnet.softmax(mlp_logits(at, x, ws, bs, at.nnet.relu)))
    return lambda: f(MLP_X)


def _np_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def w3_numpy():
    return lambda: _np_softmax(mlp_logits(np, MLP_X, MLP_W, MLP_B, lambda v: np.maximum(v, 0)))


def w3_jax():
    jax = need("jax")
    ws = [jax.device_put(w) for w in MLP_W]
    bs = [jax.device_put(b) for b in MLP_B]
    f = jax.jit(lambda x: jax.nn.softmax(mlp_logits(None, x, ws, bs, jax.nn.relu), axis=-1))
    x = jax.device_put(MLP_X)
    return lambda: f(x).block_until_ready()


def w3_torch():
    torch = need("torch")
    ws = [torch.from_numpy(w) for w in MLP_W]
    bs = [torch.from_numpy(b) for b in MLP_B]
    x = torch.from_numpy(MLP_X)

    def run():
        with torch.no_grad():
            return torch.softmax(mlp_logits(None, x, ws, bs, torch.relu), dim=1)

    return run


def w3_pytensor(mode):
    def build():
        def graph(pytensor):
            import pytensor.tensor as pt
            from pytensor.tensor.special import softmax

            x = pt.fmatrix("x")
            ws = [pytensor.shared(w.copy()) for w in MLP_W]
            bs = [pytensor.shared(b.copy()) for b in MLP_B]
            relu = lambda v: pt.maximum(v, 0)  # noqa: E731
            return [x], softmax(mlp_logits(pt, x, ws, bs, relu), axis=1), None

        f = _pytensor_fn(graph, mode)
        return lambda: f(MLP_X)

    return build


def w4_aotgraph():
    import aotgraph as ag
    import aotgraph.tensor as at

    x, y = at.fmatrix("x"), at.lvector("y")
    ws = [ag.shared(w.copy()) for w in MLP_W]
    bs = [ag.shared(b.copy()) for b in MLP_B]
    logits = mlp_logits(at, x, ws, bs, at.nnet.relu)
    loss = at.nnet.categorical_crossentropy(at.nnet.softmax(logits), y).mean()
    params = ws + bs
    grads = ag.grad(loss, params)
    f = ag.function([x, y], loss, updates=[(p, p - LR * g) for p, g in zip(params, grads)])
    return lambda: f(MLP_X, MLP_Y)


def w4_numpy():
    ws = [w.copy() for w in MLP_W]
    bs = [b.copy() for b in MLP_B]

    def run():
        acts = [MLP_X]
        h = MLP_X
        for i in range(3):
            h = h @ ws[i] + bs[i]
            if i < 2:
                h = np.maximum(h, 0)
            acts.append(h)
        p = _np_softmax(h)
        loss = -np.log(p[np.arange(BATCH), MLP_Y]).mean()
        d = p
        d[np.arange(BATCH), MLP_Y] -= 1
        d /= BATCH
        for i in reversed(range(3)):
            gw = acts[i].T @ d
            gb = d.sum(axis=0)
            if i:
                d = (d @ ws[i].T) * (acts[i] > 0)
            ws[i] -= LR * gw
            bs[i] -= LR * gb
        return loss

    return run


def w4_jax():
    jax = need("jax")
    import jax.numpy as jnp

    params = [jax.device_put(a) for a in MLP_W + MLP_B]

    def loss_fn(params, x, y):
        logits = mlp_logits(None, x, params[:3], params[3:], jax.nn.relu)
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return loss, [p - LR * g for p, g in zip(params, grads)]

    x, y = jax.device_put(MLP_X), jax.device_put(MLP_Y.astype(np.int32))
    state = {"p": params}

    def run():
        loss, state["p"] = step(state["p"], x, y)
        return loss.block_until_ready()

    return run


def w4_torch():
    torch = need("torch")
    params = [torch.tensor(a, requires_grad=True) for a in MLP_W + MLP_B]
    x, y = torch.from_numpy(MLP_X), torch.from_numpy(MLP_Y)
    opt = torch.optim.SGD(params, lr=LR)

    def run():
        opt.zero_grad(set_to_none=True)
        logits = mlp_logits(None, x, params[:3], params[3:], torch.relu)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        return loss.item()

    return run


def w4_pytensor(mode):
    def build():
        def graph(pytensor):
            import pytensor.tensor as pt
            from pytensor.tensor.special import softmax

            x, y = pt.fmatrix("x"), pt.lvector("y")
            ws = [pytensor.shared(w.copy()) for w in MLP_W]
            bs = [pytensor.shared(b.copy()) for b in MLP_B]
            relu = lambda v: pt.maximum(v, 0)  # noqa: E731
            p = softmax(mlp_logits(pt, x, ws, bs, relu), axis=1)
            loss = -pt.log(p[pt.arange(y.shape[0]), y]).mean()
            params = ws + bs
            grads = pytensor.grad(loss, params)
            return [x, y], loss, [(q, q - np.float32(LR) * g) for q, g in zip(params, grads)]

        f = _pytensor_fn(graph, mode)
        return lambda: f(MLP_X, MLP_Y)

    return build


# ---------------------------------------------------------------- W5 RNN
T, B5, NIN, NH = 100, 32, 64, 256
RNN_X = f32(T, B5, NIN)
RNN_WX, RNN_WH = f32(NIN, NH, scale=0.1), f32(NH, NH, scale=0.05)
RNN_B, RNN_H0 = np.zeros(NH, np.float32), np.zeros((B5, NH), np.float32)


def w5_aotgraph(with_grad):
    def build():
        import aotgraph as ag
        import aotgraph.tensor as at

        x = at.ftensor3("x")
        wx, wh, b = ag.shared(RNN_WX), ag.shared(RNN_WH), ag.shared(RNN_B)
        h0 = at.fmatrix("h0")
        hs, _ = ag.scan(lambda xt, h: at.tanh(xt @ wx + h @ wh + b), sequences=x, outputs_info=h0)
        cost = hs[-1].sum()
        outs = ag.grad(cost, [wx, wh, b]) if with_grad else hs[-1]
        f = ag.function([x, h0], outs)
        return lambda: f(RNN_X, RNN_H0)

    return build


def w5_numpy(with_grad):
    def run():
        hs = [RNN_H0]
        for t in range(T):
            hs.append(np.tanh(RNN_X[t] @ RNN_WX + hs[-1] @ RNN_WH + RNN_B))
        if not with_grad:
            return hs[-1]
        gwx, gwh, gb = np.zeros_like(RNN_WX), np.zeros_like(RNN_WH), np.zeros_like(RNN_B)
        dh = np.ones_like(RNN_H0)
        for t in reversed(range(T)):
            dz = dh * (1 - hs[t + 1] ** 2)
            gwx += RNN_X[t].T @ dz
            gwh += hs[t].T @ dz
            gb += dz.sum(axis=0)
            dh = dz @ RNN_WH.T
        return gwx, gwh, gb

    return lambda: run


def w5_jax(with_grad):
    def build():
        jax = need("jax")
        import jax.numpy as jnp

        def final(wx, wh, b, x, h0):
            def step(h, xt):
                h = jnp.tanh(xt @ wx + h @ wh + b)
                return h, None

            h, _ = jax.lax.scan(step, h0, x)
            return h

        if with_grad:
            f = jax.jit(jax.grad(lambda wx, wh, b, x, h0: final(wx, wh, b, x, h0).sum(), (0, 1, 2)))
        else:
            f = jax.jit(final)
        args = [jax.device_put(a) for a in (RNN_WX, RNN_WH, RNN_B, RNN_X, RNN_H0)]
        return lambda: jax.block_until_ready(f(*args))

    return build


def w5_torch(with_grad):
    def build():
        torch = need("torch")
        wx, wh, b = (torch.tensor(a, requires_grad=with_grad) for a in (RNN_WX, RNN_WH, RNN_B))
        x, h0 = torch.from_numpy(RNN_X), torch.from_numpy(RNN_H0)

        def run():
            with torch.set_grad_enabled(with_grad):
                h = h0
                for t in range(T):
                    h = torch.tanh(x[t] @ wx + h @ wh + b)
                if with_grad:
                    return torch.autograd.grad(h.sum(), [wx, wh, b])
                return h

        return run

    return build


def w5_pytensor(with_grad, mode):
    def build():
        def graph(pytensor):
            import pytensor.tensor as pt

            x, h0 = pt.ftensor3("x"), pt.fmatrix("h0")
            wx, wh, b = (pytensor.shared(a) for a in (RNN_WX, RNN_WH, RNN_B))
            hs, _ = pytensor.scan(
                lambda xt, h: pt.tanh(xt @ wx + h @ wh + b), sequences=x, outputs_info=h0
            )
            out = pytensor.grad(hs[-1].sum(), [wx, wh, b]) if with_grad else hs[-1]
            return [x, h0], out, None

        f = _pytensor_fn(graph, mode)
        return lambda: f(RNN_X, RNN_H0)

    return build


def _peers(aot, numpy_, jax_, torch_, pytensor_):
    return {
        "aotgraph": aot,
        "numpy": numpy_,
        "pytensor (default)": pytensor_(None),
        "pytensor (C, CVM)": pytensor_("CVM"),
        "jax (cpu)": jax_,
        "torch (cpu)": torch_,
    }


ALL = [
    Workload(
        "W1",
        "call overhead x+y, float32[16]",
        2000,
        15,
        _peers(w1_aotgraph, w1_numpy, w1_jax, w1_torch, w1_pytensor),
    ),
    Workload(
        "W2",
        "fused elementwise, 1e7 float32",
        3,
        9,
        _peers(w2_aotgraph, w2_numpy, w2_jax, w2_torch, w2_pytensor),
    ),
    Workload(
        "W3",
        "MLP forward 256x784-512-256-10",
        10,
        11,
        _peers(w3_aotgraph, w3_numpy, w3_jax, w3_torch, w3_pytensor),
    ),
    Workload(
        "W4",
        "MLP train step (SGD)",
        5,
        11,
        _peers(w4_aotgraph, w4_numpy, w4_jax, w4_torch, w4_pytensor),
    ),
    Workload(
        "W5f",
        "RNN forward 100 steps",
        3,
        9,
        _peers(
            w5_aotgraph(False),
            w5_numpy(False),
            w5_jax(False),
            w5_torch(False),
            lambda mode: w5_pytensor(False, mode),
        ),
    ),
    Workload(
        "W5g",
        "RNN forward + gradient",
        2,
        7,
        _peers(
            w5_aotgraph(True),
            w5_numpy(True),
            w5_jax(True),
            w5_torch(True),
            lambda mode: w5_pytensor(True, mode),
        ),
    ),
]


_MEM_SCRIPT = """
import sys
sys.path.insert(0, {path!r})
import workloads as w
run = w.w2_{which}()

def status(key):
    with open("/proc/self/status") as fh:
        return [int(l.split()[1]) for l in fh if l.startswith(key)][0]

# Building the inputs went through float64 temporaries: reset the high-water
# mark (Linux clear_refs "5") so only the call's own growth is measured.
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
rss = status("VmRSS")
out = run()
print(status("VmHWM") - rss)
"""


def peak_memory_w2():
    """Peak RSS growth of the first W2 call over the RSS with inputs allocated
    and the function built, in fresh processes (the output alone is 38 MiB)."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    out = {}
    inputs_kib = 2 * N2 * 4 // 1024
    # the target: inputs + output + 5%, the inputs already being resident
    budget_mib = (inputs_kib / 2 + 0.05 * inputs_kib * 1.5) / 1024
    for which in ("aotgraph", "numpy"):
        code = _MEM_SCRIPT.format(path=here, which=which)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if res.returncode:
            out[which] = "failed: " + res.stderr.strip().splitlines()[-1][:120]
        else:
            grown = int(res.stdout.strip()) / 1024
            out[which] = (
                f"{grown:.1f} MiB (inputs {inputs_kib / 1024:.0f} MiB, output "
                f"{inputs_kib / 2048:.0f} MiB; target <= {budget_mib:.1f} MiB)"
            )
    return out
