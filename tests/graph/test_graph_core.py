"""The graph core: variables, constants, shared variables and apply nodes
(Theano's bipartite SSA model), structural identity, walking, cloning and
source locations."""

import sys

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.graph import (
    Apply,
    Constant,
    SharedVariable,
    Variable,
    ancestors,
    clients,
    clone_replace,
    graph_inputs,
    toposort,
)
from aotgraph.ops.base import Op, apply1, apply_op
from aotgraph.types import TensorType


def _line_of(marker):
    with open(__file__) as fh:
        for i, line in enumerate(fh, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


# --- the bipartite model ---------------------------------------------------


def test_each_variable_is_the_output_of_at_most_one_node():
    x, y = at.dvector("x"), at.dvector("y")
    z = x + y
    assert x.owner is None and y.owner is None
    node = z.owner
    assert isinstance(node, Apply)
    assert node.inputs == (x, y) and node.outputs == (z,)
    assert z.index == 0 and node.op.name == "add"
    # building the same expression again makes a new node and a new variable
    z2 = x + y
    assert z2 is not z and z2.owner is not node


def test_apply_nodes_and_types_are_immutable():
    x = at.dvector("x")
    node = (x * 2).owner
    with pytest.raises(AttributeError):
        node.inputs = (x, x)
    with pytest.raises(AttributeError):
        node.op = Op("sub")
    with pytest.raises(AttributeError):
        x.type.dtype = "float32"
    with pytest.raises(AttributeError):
        node.op.name = "sub"


def test_variables_have_type_dtype_ndim_and_static_shape():
    x = at.tensor("int16", shape=(None, 3), name="x")
    assert x.type == TensorType("int16", (None, 3))
    assert (x.dtype, x.ndim, x.static_shape, x.broadcastable) == (
        "int16",
        2,
        (None, 3),
        (False, False),
    )
    assert x.name == "x" and repr(x) == "x"


def test_variables_are_hashable_by_identity_and_have_no_truth_value():
    x = at.dvector("x")
    d = {x: 1}
    assert d[x] == 1 and x.clone() not in d
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(x)


def test_constants_hold_read_only_copies():
    data = np.array([1.0, 2.0])
    c = at.constant(data)
    data[0] = 99.0
    assert isinstance(c, Constant) and c.owner is None
    np.testing.assert_array_equal(c.data, [1.0, 2.0])
    with pytest.raises(ValueError):
        c.data[0] = 5.0
    assert c.type == TensorType("float64", (2,))


def test_constant_signature_is_value_identity():
    a = at.constant(np.array([1.0, 2.0]))
    b = at.constant([1.0, 2.0])
    assert a is not b and a.signature() == b.signature()
    assert hash(a.signature()) == hash(b.signature())
    assert a.signature() != at.constant(np.array([1.0, 2.0], np.float32)).signature()
    assert a.signature() != at.constant([[1.0, 2.0]]).signature()
    assert at.constant(0.0).signature() != at.constant(-0.0).signature()


def test_constants_of_non_numbers_are_refused():
    for bad in ("text", [1, "a"], None, np.array([1 + 2j])):
        with pytest.raises(TypeError, match="constant"):
            at.constant(bad)


def test_merge_key_identifies_identical_subgraphs():
    x, y = at.dvector("x"), at.dvector("y")
    a, b = (x + y).owner, (x + y).owner
    assert a is not b and a.merge_key() == b.merge_key()
    assert (y + x).owner.merge_key() != a.merge_key()
    assert (x - y).owner.merge_key() != a.merge_key()
    s0, s1 = x.sum(axis=0), x.sum(axis=0, keepdims=True)
    assert s0.owner.merge_key() != s1.owner.merge_key()
    assert hash(a.merge_key()) == hash(b.merge_key())


def test_ops_are_values():
    assert Op("sum", axis=[0, 1], keepdims=False) == Op("sum", axis=(0, 1), keepdims=False)
    assert hash(Op("sum", axis=(0,), keepdims=False)) == hash(Op("sum", axis=(0,), keepdims=False))
    assert Op("sum", axis=(0,), keepdims=False) != Op("sum", axis=(1,), keepdims=False)
    with pytest.raises(ag.AotgraphError, match="no op named"):
        Op("no_such_op")
    with pytest.raises(TypeError, match="plain value"):
        Op("sum", axis=object())


def test_apply_op_checks_arity_and_input_kinds():
    x = at.dvector("x")
    with pytest.raises(TypeError, match="add: expected 2 inputs, got 1"):
        apply_op("add", [x])
    with pytest.raises(TypeError, match="add: input 1 must be a symbolic variable"):
        apply_op("add", [x, np.ones(2)])
    assert apply1("add", [x, x]).type == x.type


def test_shared_variables_keep_their_value_across_get_and_set():
    value = np.arange(3.0)
    w = ag.shared(value, name="w")
    value[0] = 100.0  # borrow=False copied it
    assert isinstance(w, SharedVariable) and w.owner is None
    np.testing.assert_array_equal(w.get_value(), [0.0, 1.0, 2.0])
    got = w.get_value()
    got[1] = -1.0  # get_value returns a copy
    assert w.get_value()[1] == 1.0
    w.set_value(np.array([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(w.get_value(), [5.0, 6.0, 7.0])
    assert w.get_value(borrow=True) is w.get_value(borrow=True)


def test_shared_variable_types_and_set_value_checks():
    assert ag.shared(1.5).dtype == ag.config.floatX  # a Python float is floatX
    assert ag.shared(np.float64(1.5)).dtype == "float64"
    assert ag.shared(np.zeros((2, 3), np.int32)).type == TensorType("int32", (2, 3))
    w = ag.shared(np.zeros(3, np.float32), name="w", shape=(None,))
    w.set_value(np.ones(5, np.float32))  # dynamic length may change
    with pytest.raises(TypeError, match="'w'"):
        w.set_value(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="'w'"):
        w.set_value(np.ones(3, np.complex64))
    fixed = ag.shared(np.zeros(3), name="fixed")
    with pytest.raises(TypeError, match="'fixed'"):
        fixed.set_value(np.zeros(4))
    with pytest.raises(TypeError, match="shared"):
        ag.shared(at.dvector())
    with pytest.raises(TypeError, match="shared"):
        ag.shared(np.array(["a"]))


# --- walking -------------------------------------------------------------


def _diamond():
    x, y = at.dvector("x"), at.dvector("y")
    a = x * 2.0
    b = at.exp(a)
    c = a + y
    return x, y, a, b, c, b * c


def test_toposort_puts_each_node_after_the_nodes_it_reads():
    x, y, a, b, c, out = _diamond()
    order = toposort(out)
    assert len(order) == len(set(map(id, order))) == 4
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for v in node.inputs:
            if v.owner is not None:
                assert position[id(v.owner)] < position[id(node)]
    assert order[-1] is out.owner and order[0] is a.owner


def test_toposort_stops_at_given_variables():
    x, y, a, b, c, out = _diamond()
    order = toposort(out, stop=[a])
    assert a.owner not in order and len(order) == 3


def test_graph_inputs_ancestors_and_clients():
    x, y, a, b, c, out = _diamond()
    free = [v for v in graph_inputs(out) if not isinstance(v, Constant)]
    assert free == [x, y]
    assert any(isinstance(v, Constant) for v in graph_inputs(out))
    anc = ancestors(out)
    assert {id(v) for v in (x, y, a, b, c, out)} <= {id(v) for v in anc}
    readers = clients(out)
    assert sorted(n.op.name for n, _ in readers[a.uid]) == ["add", "exp"]
    assert [(n.op.name, i) for n, i in readers[y.uid]] == [("add", 1)]
    assert graph_inputs(x) == [x]


def test_toposort_of_a_100000_node_chain_is_iterative():
    x = at.dscalar("x")
    one = at.constant(1.0)
    y = x
    for _ in range(100_000):
        y = apply1("add", [y, one])
    limit = sys.getrecursionlimit()
    assert limit < 100_000
    order = toposort(y)
    assert len(order) == 100_000 and order[0].inputs[0] is x and order[-1] is y.owner
    assert graph_inputs(y) == [x, one]
    assert float(y.eval({x: 0.5})) == 100_000.5


def test_clone_replace_of_a_chain_deeper_than_the_recursion_limit():
    x, z = at.dscalar("x"), at.dscalar("z")
    y = x
    for _ in range(3 * sys.getrecursionlimit()):
        y = y * 1.0 + 1.0
    n = 3 * sys.getrecursionlimit()
    assert float(clone_replace(y, {x: z}).eval({z: 2.0})) == 2.0 + n


# --- clone_replace -----------------------------------------------------------


def test_clone_replace_substitutes_and_leaves_the_original_alone():
    x, y, a, b, c, out = _diamond()
    z = at.dvector("z")
    new = clone_replace(out, {y: z})
    xv, yv, zv = np.array([0.5, 1.0]), np.array([1.0, 2.0]), np.array([3.0, -1.0])

    def oracle(xv, yv):
        av = xv * 2.0
        return np.exp(av) * (av + yv)

    np.testing.assert_allclose(new.eval({x: xv, z: zv}), oracle(xv, zv))
    np.testing.assert_allclose(out.eval({x: xv, y: yv}), oracle(xv, yv))
    # the part that does not depend on y is shared, not copied
    assert b in ancestors(new) and y not in graph_inputs(new)


def test_clone_replace_with_a_list_and_with_expressions():
    x, y = at.dscalar("x"), at.dscalar("y")
    outs = clone_replace([x + 1, x * y], {x: y * 3})
    assert isinstance(outs, list) and len(outs) == 2
    assert float(outs[0].eval({y: 2.0})) == 7.0
    assert float(outs[1].eval({y: 2.0})) == 12.0
    e = x + 1
    assert clone_replace(e, {}) is e  # nothing replaced: nothing copied


def test_clone_replace_rejects_bad_replacements():
    x = at.dvector("x")
    with pytest.raises(TypeError, match="ndim"):
        clone_replace(x * 2, {x: at.dmatrix("m")})
    with pytest.raises(TypeError, match="keys must be variables"):
        clone_replace(x * 2, {"x": at.dvector()})
    # a replacement whose static length conflicts with the graph fails to build
    v = at.tensor("float64", shape=(3,), name="v")
    with pytest.raises(ag.ShapeError):
        clone_replace(x + v, {x: at.tensor("float64", shape=(4,))})


def test_clone_replace_retypes_downstream_nodes():
    x = at.fvector("x")
    y = clone_replace(at.exp(x) * 2.0, {x: at.dvector("d")})
    assert y.dtype == "float64"


# --- source locations --------------------------------------------------------


def test_each_variable_remembers_the_users_file_and_line():
    x = at.dvector("x")  # TRACE-INPUT
    y = at.exp(x) + 1.0  # TRACE-EXPR
    assert x.trace == (__file__, _line_of("TRACE-INPUT"))
    assert y.trace == (__file__, _line_of("TRACE-EXPR"))
    assert y.owner.inputs[0].trace == (__file__, _line_of("TRACE-EXPR"))


def test_build_errors_point_at_the_users_line():
    a = at.tensor("float32", shape=(3, 4), name="a")
    b = at.tensor("float32", shape=(5, 6), name="b")
    with pytest.raises(ag.ShapeError) as info:
        at.dot(a, b)  # TRACE-BUILD-ERROR
    assert f"{__file__}:{_line_of('TRACE-BUILD-ERROR')}" in str(info.value)


def test_missing_input_errors_point_at_where_the_variable_was_created():
    x = at.dvector("x")
    y = at.dvector("y")  # TRACE-MISSING
    with pytest.raises(ag.MissingInputError) as info:
        ag.function([x], x * y, target="py")
    assert f"{__file__}:{_line_of('TRACE-MISSING')}" in str(info.value)


def test_run_time_errors_point_at_the_expression():
    x, y = at.dvector("x"), at.dvector("y")
    z = x * y  # TRACE-RUNTIME
    f = ag.function([x, y], z, target="py", optimize=False, name="mul_fn")
    with pytest.raises(ValueError) as info:
        f(np.ones(2), np.ones(3))
    assert f"{__file__}:{_line_of('TRACE-RUNTIME')}" in str(info.value)


def test_a_user_file_named_like_the_package_is_still_the_users():
    # a file beside the package whose name starts with "aotgraph"
    import os

    import aotgraph.graph as graph_module

    package_dir = os.path.dirname(graph_module.__file__)
    path = package_dir + "_user_spec.py"
    code = compile("import aotgraph.tensor as at\nv = at.dvector('v')\n", path, "exec")
    scope = {}
    exec(code, scope)
    assert scope["v"].trace == (path, 2)


def test_variable_requires_a_tensor_type():
    with pytest.raises(TypeError, match="TensorType"):
        Variable("float32")
    with pytest.raises(TypeError, match="name"):
        Variable(TensorType("float32"), name=3)


def test_a_variables_type_and_producer_are_fixed_but_its_name_is_not():
    x = at.dvector("x")
    y = x * 2
    for field, value in (("owner", None), ("type", x.type), ("index", 1), ("uid", 0)):
        with pytest.raises(AttributeError, match=field):
            setattr(y, field, value)
    y.name = "doubled"
    assert repr(y) == "doubled" and y.owner.inputs[0] is x
