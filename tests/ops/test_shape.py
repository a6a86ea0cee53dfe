"""Shape ops and constructors against numpy applied by the test to the same
arrays: reshape, flatten, dimshuffle and friends, squeeze, expand_dims,
concatenate, stack, broadcast_to, alloc, zeros/ones/full(_like), arange,
eye, tile, repeat and symbolic shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, broadcastable_shapes

import aotgraph as ag
import aotgraph.tensor as at

SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def run(inputs, out, *values):
    return ag.function(inputs, out, target="py", on_unused_input="ignore")(*values)


def dyn(value, name="x"):
    value = np.asarray(value)
    return at.tensor(value.dtype.name, shape=(None,) * value.ndim, name=name)


def stat(value, name="x"):
    value = np.asarray(value)
    return at.tensor(value.dtype.name, shape=value.shape, name=name)


def same(got, expected):
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    np.testing.assert_array_equal(got, expected)


@st.composite
def reshape_cases(draw):
    """A shape and a target of the same size, maybe with one -1."""
    shape = draw(SHAPES)
    size = int(np.prod(shape))
    target = []
    rest = size
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, 5) if rest % d == 0] if rest else [0, 1, 2]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        rest = rest // d if d else 0
    if rest != 1 or not target or size == 0:
        target.append(rest if size else 0)
    if size and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


# --- reshape and symbolic shapes ----------------------------------------------


@given(reshape_cases())
def test_reshape_matches_numpy_with_static_and_symbolic_lengths(case):
    shape, target = case
    value = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    expected = value.reshape(target)
    for make in (stat, dyn):
        x = make(value)
        y = x.reshape(target)
        same(run([x], y, value), expected)
        if make is stat:
            assert y.type.shape == expected.shape
    dims = [at.lscalar() for _ in target]
    x = dyn(value)
    same(run([x] + dims, x.reshape(tuple(dims)), value, *target), expected)


def test_reshape_with_shape_entries_infers_static_lengths():
    x = at.tensor("float64", shape=(2, 3, 4), name="x")
    assert x.reshape((x.shape[0], -1)).type.shape == (2, 12)
    y = at.tensor("float64", shape=(None, 3), name="y")
    z = at.dvector("z")
    out = z.reshape(y.shape)
    assert out.type.shape == (None, 3)
    same(run([z, y], out, np.arange(6.0), np.zeros((2, 3))), np.arange(6.0).reshape(2, 3))
    w = y.reshape((y.shape[1], -1))
    same(run([y], w, np.arange(12.0).reshape(4, 3)), np.arange(12.0).reshape(3, 4))


@given(SHAPES, st.data())
def test_flatten_keeps_dynamic_leading_lengths(shape, data):
    ndim = data.draw(st.integers(1, max(len(shape), 1)))
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    expected = value.reshape(shape[: ndim - 1] + (int(np.prod(shape[ndim - 1 :])),))
    x = dyn(value)
    same(run([x], at.flatten(x, ndim), value), expected)
    same(run([x], x.flatten(), value), value.reshape(-1))


def test_shape_size_and_ndim():
    value = np.zeros((2, 0, 3))
    x = dyn(value)
    same(run([x], x.shape, value), np.array([2, 0, 3]))
    assert int(run([x], x.size, value)) == 0
    assert x.ndim == 3
    s = at.tensor("float32", shape=(2, None), name="s")
    assert s.shape.type.shape == (2,) and s.shape.dtype == "int64"
    same(run([s], s.shape, np.zeros((2, 5), np.float32)), np.array([2, 5]))
    assert at.shape_vector(at.dscalar()).type.shape == (0,)


def test_reshape_errors_name_the_shapes_and_the_line():
    x = at.tensor("float64", shape=(2, 3), name="x")
    with pytest.raises(
        ValueError,
        match=r"reshape: cannot reshape a tensor of shape \(2, 3\) .*\[operands: x float64\[2,3\]\] \(at .*test_shape.py:\d+\)",
    ):
        x.reshape((4, 2))
    with pytest.raises(ValueError, match="at most one -1"):
        x.reshape((-1, -1))
    with pytest.raises(TypeError, match="shape entry 0 must be an integer scalar"):
        x.reshape((at.dscalar(), 2))
    y, n = at.dmatrix("y"), at.lscalar("n")
    f = ag.function([y, n], y.reshape((n, -1)), target="py")
    with pytest.raises(ValueError, match="reshape"):
        f(np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="a symbolic length is -2 at run time"):
        f(np.zeros((2, 3)), -2)


# --- permutations, squeeze, expand_dims ----------------------------------------


@given(SHAPES, st.randoms(use_true_random=False))
def test_transpose_swapaxes_moveaxis_match_numpy(shape, rnd):
    value = np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape)
    axes = list(range(len(shape)))
    rnd.shuffle(axes)
    x = dyn(value)
    same(run([x], at.transpose(x, axes), value), np.transpose(value, axes))
    same(run([x], x.T, value), value.T)
    same(run([x], x.transpose(*axes), value), value.transpose(*axes))
    if shape:
        a, b = rnd.randrange(-len(shape), len(shape)), rnd.randrange(len(shape))
        same(run([x], at.swapaxes(x, a, b), value), np.swapaxes(value, a, b))
        src = rnd.sample(range(len(shape)), rnd.randint(1, len(shape)))
        dst = rnd.sample(range(-len(shape), 0), len(src))
        same(run([x], at.moveaxis(x, src, dst), value), np.moveaxis(value, src, dst))


@given(SHAPES, st.data())
def test_expand_dims_and_squeeze_match_numpy(shape, data):
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    n_new = data.draw(st.integers(1, 2))
    axes = tuple(
        data.draw(
            st.lists(
                st.integers(-(len(shape) + n_new), len(shape) + n_new - 1),
                min_size=n_new,
                max_size=n_new,
                unique_by=lambda a: a % (len(shape) + n_new),
            )
        )
    )
    x = stat(value)
    e = at.expand_dims(x, axes)
    same(run([x], e, value), np.expand_dims(value, axes))
    assert e.type.shape == np.expand_dims(value, axes).shape
    same(run([x], at.squeeze(x), value), np.squeeze(value))
    ones = tuple(a for a, d in enumerate(shape) if d == 1)
    if ones:
        xd = dyn(value)  # lengths unknown at build time: checked at run time
        same(run([xd], at.squeeze(xd, ones), value), np.squeeze(value, ones))
        same(run([xd], xd.squeeze(ones[-1]), value), np.squeeze(value, ones[-1]))


def test_squeeze_errors():
    x = at.tensor("float64", shape=(None, 3), name="x")
    assert at.squeeze(x).type.shape == (None, 3)
    with pytest.raises(ValueError, match=r"squeeze: cannot squeeze axis 1 .* its length is 3"):
        at.squeeze(x, 1)
    f = ag.function([x], at.squeeze(x, 0), target="py")
    same(f(np.ones((1, 3))), np.ones(3))
    with pytest.raises(ValueError, match="squeeze: axis 0 has length 2 at run time"):
        f(np.ones((2, 3)))
    with pytest.raises(TypeError, match="out of bounds"):
        at.expand_dims(x, 3)


def test_dimshuffle_drops_and_adds_axes():
    value = np.arange(6.0).reshape(2, 1, 3)
    x = at.tensor("float64", shape=(None, 1, None), name="x")
    same(run([x], x.dimshuffle(2, "x", 0), value), value[:, 0, :].T[:, None, :])
    with pytest.raises(ValueError, match="only axes of static length 1 can be dropped"):
        x.dimshuffle(1, 2)


# --- joining -----------------------------------------------------------------


@given(SHAPES.filter(bool), st.data())
def test_concatenate_and_stack_match_numpy(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = data.draw(st.integers(1, 3))
    dtypes = data.draw(
        st.lists(
            st.sampled_from(["int8", "int32", "float32", "float64", "bool"]), min_size=n, max_size=n
        )
    )
    values = []
    for dt in dtypes:
        s = list(shape)
        s[axis] = data.draw(st.integers(0, 3))
        values.append((np.arange(int(np.prod(s))) % 3).astype(dt).reshape(s))
    xs = [dyn(v, f"x{i}") for i, v in enumerate(values)]
    same(run(xs, at.concatenate(xs, axis=axis), *values), np.concatenate(values, axis=axis))
    same(run(xs, at.concatenate(xs, axis=None), *values), np.concatenate(values, axis=None))
    equal = [np.zeros(shape, v.dtype) + i for i, v in enumerate(values)]
    stack_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    statics = [stat(v, f"s{i}") for i, v in enumerate(equal)]
    out = at.stack(statics, axis=stack_axis)
    same(run(statics, out, *equal), np.stack(equal, axis=stack_axis))
    assert out.type.shape == np.stack(equal, axis=stack_axis).shape


def test_join_errors_name_the_operands():
    a = at.tensor("float64", shape=(2, 3), name="a")
    b = at.tensor("float64", shape=(2, 4), name="b")
    with pytest.raises(
        ValueError,
        match=r"concatenate: tensor 1 has shape \(2, 4\), tensor 0 has \(2, 3\); all axes but axis 0 must match \[operands: a float64\[2,3\], b float64\[2,4\]\] \(at .*test_shape.py",
    ):
        at.concatenate([a, b])
    assert at.concatenate([a, b], axis=1).type.shape == (2, 7)
    with pytest.raises(TypeError, match="tensor 1 has ndim 1"):
        at.concatenate([a, at.dvector()])
    with pytest.raises(TypeError, match="zero-dimensional"):
        at.concatenate([at.dscalar(), at.dscalar()])
    with pytest.raises(ValueError, match="all axes but axis 0 must match"):
        at.stack([a, b])
    x, y = at.dmatrix("x"), at.dmatrix("y")
    f = ag.function([x, y], at.concatenate([x, y]), target="py")
    with pytest.raises(ValueError, match="join"):
        f(np.zeros((1, 2)), np.zeros((1, 3)))


# --- constructors ----------------------------------------------------------------


@given(
    array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3).flatmap(
        lambda s: broadcastable_shapes(s, min_dims=0, min_side=0)
    )
)
def test_broadcast_to_and_alloc_match_numpy(shape):
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    target = tuple(d if d != 1 else 2 for d in shape)
    target = (3,) + target
    x = dyn(value)
    same(run([x], at.broadcast_to(x, target), value), np.broadcast_to(value, target))
    dims = [at.lscalar() for _ in target]
    same(run([x] + dims, at.alloc(x, *dims), value, *target), np.broadcast_to(value, target))
    y = at.tensor("float64", shape=target, name="y")
    z = at.broadcast_to(stat(value), y.shape)
    assert z.type.shape == target
    same(run([z.owner.inputs[0], y], z, value, np.zeros(target)), np.broadcast_to(value, target))


def test_broadcast_errors():
    x = at.tensor("float64", shape=(3,), name="x")
    with pytest.raises(
        ValueError,
        match=r"broadcast_to: cannot broadcast a value of shape \(3,\) to shape \(2, 4\)",
    ):
        at.broadcast_to(x, (2, 4))
    with pytest.raises(ValueError, match="more dimensions than the target"):
        at.broadcast_to(at.dmatrix(), (3,))
    d, n = at.dvector("d"), at.lscalar("n")
    f = ag.function([d, n], at.alloc(d, 2, n), target="py")
    with pytest.raises(ValueError, match="alloc: cannot broadcast a value of shape"):
        f(np.zeros(3), 4)


def test_zeros_ones_full_and_like():
    assert at.zeros((2, 3)).dtype == ag.config.floatX
    same(at.zeros((2, 3), "int16").eval(), np.zeros((2, 3), np.int16))
    same(at.ones(4, "float64").eval(), np.ones(4))
    same(at.full((2,), 7).eval(), np.full((2,), 7))
    same(at.full((1, 2), 1.5, dtype="float64").eval(), np.full((1, 2), 1.5))
    x = at.tensor("float32", shape=(None, None), name="x")
    value = np.array([[np.inf, -np.inf], [np.nan, 1.0]], np.float32)
    same(run([x], at.zeros_like(x), value), np.zeros_like(value))
    same(run([x], at.ones_like(x), value), np.ones_like(value))
    same(run([x], at.full_like(x, 3), value), np.full_like(value, 3))
    same(run([x], at.zeros_like(x, dtype="int8"), value), np.zeros_like(value, dtype=np.int8))
    n = at.lscalar("n")
    same(run([n], at.zeros((n, 2), "float64"), 3), np.zeros((3, 2)))
    same(run([x], at.ones(x.shape[::-1], "float64"), np.zeros((1, 4), np.float32)), np.ones((4, 1)))
    v = at.dscalar("v")
    same(run([v, n], at.full((n,), v), 2.5, 2), np.full((2,), 2.5))


@given(st.integers(-6, 6), st.integers(-6, 6), st.sampled_from([1, 2, -1, -3, 0.5, -1.5]))
def test_arange_matches_numpy(start, stop, step):
    expected = np.arange(start, stop, step)
    a = at.arange(start, stop, step)
    same(a.eval(), expected)
    assert a.type.shape == expected.shape
    s, e = at.lscalar("s"), at.lscalar("e")
    st_ = at.dscalar("st") if isinstance(step, float) else at.lscalar("st")
    same(run([s, e, st_], at.arange(s, e, st_), start, stop, step), expected)
    same(run([e], at.arange(e), stop), np.arange(stop))


def test_arange_dtypes_and_errors():
    assert at.arange(3).dtype == np.arange(3).dtype.name
    assert at.arange(0.0, 1.0, 0.25).dtype == "float64"
    assert at.arange(at.iscalar()).dtype == "int64"
    assert at.arange(at.fscalar()).dtype == "float64"
    assert at.arange(at.scalar(dtype="uint64")).dtype == np.arange(np.uint64(3)).dtype.name
    same(at.arange(5, dtype="int8").eval(), np.arange(5, dtype=np.int8))
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        at.arange(0, 3, 0)
    s = at.lscalar("s")
    with pytest.raises(ValueError, match="step is zero at run time"):
        run([s], at.arange(0, 3, s), 0)


@given(st.integers(0, 4), st.one_of(st.none(), st.integers(0, 4)), st.integers(-4, 4))
def test_eye_matches_numpy(n, m, k):
    same(at.eye(n, m, k, "float64").eval(), np.eye(n, m, k))
    sn, sk = at.lscalar("n"), at.iscalar("k")
    same(run([sn, sk], at.eye(sn, m, sk, "int32"), n, k), np.eye(n, m, k, dtype=np.int32))
    assert at.eye(3).dtype == ag.config.floatX


@given(SHAPES.filter(lambda s: len(s) <= 3), st.integers(0, 3), st.data())
def test_tile_and_repeat_match_numpy(shape, r, data):
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    x = dyn(value)
    reps = tuple(data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=3)))
    same(run([x], at.tile(x, reps), value), np.tile(value, reps))
    same(run([x], at.repeat(x, r), value), np.repeat(value, r))
    if shape:
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        same(run([x], at.repeat(x, r, axis=axis), value), np.repeat(value, r, axis=axis))


def test_constructor_argument_errors():
    with pytest.raises(TypeError, match="zeros: a symbolic shape vector needs a static length"):
        at.zeros(at.lvector("v"))
    with pytest.raises(TypeError, match="arange: bounds must be scalars"):
        at.arange(at.dvector())
    with pytest.raises(TypeError, match="eye: shape entry 0 must be an integer scalar"):
        at.eye(at.dscalar())
    with pytest.raises(ValueError, match="alloc: negative length"):
        at.alloc(1.0, 2, -2)
    with pytest.raises(TypeError, match="full: fill_value must be a scalar"):
        at.full((2,), at.dvector())
    with pytest.raises(ValueError, match="repeat: repeats must be >= 0"):
        at.repeat(at.dvector(), -1)
    with pytest.raises(NotImplementedError, match="repeat: only a static int repeats"):
        at.repeat(at.dvector(), [1, 2])
