"""W6: one fresh process from import to the first MLP train-step result."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402

run = workloads.w4_aotgraph()
print(float(run()))
