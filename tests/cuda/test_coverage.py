"""Which ops have CUDA code: every registered op either has a CUDA emitter
(or is a metadata view) or is reported as CPU-only with a reason."""

from aotgraph.emit.c_ops import C_OPS
from aotgraph.emit.cuda_ops import CUDA_OPS, CUDA_VIEW_OPS, cuda_support
from aotgraph.ops.base import OPS
from aotgraph.ops.elemwise import ELEMENTWISE_TABLE

KERNEL_FAMILIES = {
    "sum",
    "prod",
    "max",
    "min",
    "all",
    "any",
    "argmax",
    "argmin",
    "softmax",
    "log_softmax",
    "matmul",
    "gemm",
    "fused_elementwise",
    "switch",
    "cast",
}


def test_every_elementwise_op_and_the_core_families_have_cuda_kernels():
    assert set(ELEMENTWISE_TABLE) <= set(CUDA_OPS)
    assert KERNEL_FAMILIES <= set(CUDA_OPS)


def test_every_op_is_either_supported_or_reported_cpu_only():
    for name in sorted(set(OPS) | set(C_OPS)):
        why = cuda_support(name)
        if name in CUDA_OPS or name in CUDA_VIEW_OPS:
            assert why is None, name
        else:
            assert why and name in why and "CPU-only" in why, name


def test_cuda_emitters_reuse_the_c_shape_rules():
    # adv_subtensor's gather has its own rule, which reads only shapes (data is on the device)
    for name, emitter in CUDA_OPS.items():
        if name != "adv_subtensor":
            assert emitter.shape is C_OPS[name].shape, name
