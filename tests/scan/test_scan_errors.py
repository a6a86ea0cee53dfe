"""Build-time errors of ag.scan: they name scan, the step function's
file:line and what was expected."""

import re

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import AotgraphTypeError, ShapeError

HERE = re.escape(__file__)


def step_returning_two(v, a):
    return a + v, a * v


def test_wrong_number_of_outputs_points_at_fn():
    x = at.dvector("x")
    line = step_returning_two.__code__.co_firstlineno
    with pytest.raises(
        AotgraphTypeError,
        match=rf"scan: fn \(defined at {HERE}:{line}\) returned 2 output\(s\), "
        r"but outputs_info has 1 entries",
    ):
        ag.scan(step_returning_two, sequences=x, outputs_info=[at.constant(0.0)])


def test_dtype_mismatch():
    x = at.fvector("x")
    with pytest.raises(
        AotgraphTypeError,
        match=rf"defined at {HERE}:\d+\) returned output 0 of "
        r"dtype float32, but its initial value "
        r"\(outputs_info\[0\]\) has dtype float64",
    ):
        ag.scan(lambda v, a: v * 2, sequences=x, outputs_info=at.dscalar("a0"))


def test_ndim_mismatch():
    x = at.dvector("x")
    with pytest.raises(
        AotgraphTypeError,
        match=r"returned output 0 with ndim 0 \(float64\[\]\), "
        r"but its state \(outputs_info\[0\]\) has ndim 1",
    ):
        ag.scan(lambda v, a: a.sum() + v, sequences=x, outputs_info=at.dvector("a0"))


def test_static_shape_mismatch():
    h0 = at.dvector("h0", shape=(3,))
    W = np.ones((3, 4))
    with pytest.raises(
        ShapeError,
        match=r"returned output 0 of shape float64\[4\], but its "
        r"state \(outputs_info\[0\]\) has shape float64\[3\]",
    ):
        ag.scan(lambda h: h @ W, outputs_info=h0, n_steps=2)


def test_no_number_of_steps():
    with pytest.raises(AotgraphTypeError, match="no information about the number of steps"):
        ag.scan(lambda h: h * 2, outputs_info=at.dscalar("h"))


def test_bad_taps_and_arguments():
    x = at.dvector("x")
    with pytest.raises(AotgraphTypeError, match=r"outputs_info\[0\] taps must be negative"):
        ag.scan(lambda a: a, outputs_info=dict(initial=x, taps=[0]), n_steps=2)
    with pytest.raises(AotgraphTypeError, match=r"sequences\[0\] taps must be distinct"):
        ag.scan(lambda a, b: a, sequences=dict(input=x, taps=[1, 1]))
    with pytest.raises(
        AotgraphTypeError, match=r"sequences\[0\] must have a leading \(time\) axis"
    ):
        ag.scan(lambda a: a, sequences=at.dscalar("s"))
    with pytest.raises(AotgraphTypeError, match="truncate_gradient must be -1"):
        ag.scan(lambda a: a, sequences=x, truncate_gradient=0)
    with pytest.raises(AotgraphTypeError, match="n_steps must be an integer scalar"):
        ag.scan(lambda h: h, outputs_info=at.dscalar("h"), n_steps=at.dscalar("n"))
    with pytest.raises(ShapeError, match=r"sequences\[0\] has length 2, too short for taps"):
        ag.scan(lambda a, b: a, sequences=dict(input=at.dvector("s", shape=(2,)), taps=[0, 3]))


def test_bad_return_values():
    x = at.dvector("x")
    with pytest.raises(AotgraphTypeError, match=r"returned str 'oops' as output 0"):
        ag.scan(lambda v: "oops", sequences=x)
    with pytest.raises(AotgraphTypeError, match=r"updates for .*not a shared variable"):
        ag.scan(lambda v: (v, {x: v}), sequences=x)
    with pytest.raises(AotgraphTypeError, match="scan_until: the condition must be a scalar"):
        ag.scan(lambda v: (v, ag.scan_until(v > at.dvector("z"))), sequences=x)


def test_shared_update_of_the_wrong_type():
    s = ag.shared(np.zeros(3), name="s")
    x = at.dvector("x")
    with pytest.raises(
        AotgraphTypeError,
        match=r"updates shared variable s \(float64\[3\]\) with "
        r"float64\[\]",
    ):
        ag.scan(lambda v: {s: v}, sequences=x)


def test_strict_requires_every_outer_variable_to_be_passed():
    W = ag.shared(np.eye(2), name="W")
    x = at.dmatrix("x")
    with pytest.raises(
        AotgraphTypeError,
        match=r"scan \(strict\): fn .* uses W .*pass it in "
        r"non_sequences",
    ):
        ag.scan(lambda row: row @ W, sequences=x, strict=True)
    ys, _ = ag.scan(lambda row, W: row @ W.T, sequences=x, non_sequences=W, strict=True)
    np.testing.assert_allclose(ys.eval({x: np.ones((2, 2))}), np.ones((2, 2)))
