"""The C runtime on its own: a small C program linked with runtime_c/
checks errors, sizes, strides, copies and the workspace arena."""

from __future__ import annotations

import subprocess

from aotgraph.build.package import runtime_c_dir

PROGRAM = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "ag_runtime.h"

#define CHECK(c) do { if (!(c)) { printf("FAILED line %d: %s\n", __LINE__, #c); return 1; } } while (0)

static int arena(void)
{
    ag_ws ws;
    ag_ws_init(&ws);
    void *a = ag_ws_alloc(&ws, 10), *b = ag_ws_alloc(&ws, 1 << 20), *z = ag_ws_alloc(&ws, 0);
    CHECK(a && b && z);
    CHECK((uintptr_t)a % 64 == 0 && (uintptr_t)b % 64 == 0);
    memset(b, 1, 1 << 20);                         /* the memory is usable */
    ag_ws_release(&ws);
    ag_ws_init(&ws);                               /* the next call fits in one cached block */
    void *c = ag_ws_alloc(&ws, 10), *d = ag_ws_alloc(&ws, 1 << 20);
    CHECK(c && d && ws.head != NULL);
    void *first = c;
    ag_ws_release(&ws);
    ag_ws_init(&ws);
    CHECK(ag_ws_alloc(&ws, 10) == first);          /* steady state: no new malloc */
    CHECK(ag_ws_alloc(&ws, (size_t)-1) == NULL);   /* absurd sizes fail cleanly */
    ag_ws_release(&ws);
    return 0;
}

static int buffers(void)
{
    ag_error err = {0};
    ag_buffer b = {0};
    b.dtype = AG_FLOAT64; b.ndim = 3; b.shape[0] = 2; b.shape[1] = 3; b.shape[2] = 4;
    ag_set_contiguous(&b);
    CHECK(b.strides[0] == 12 && b.strides[1] == 4 && b.strides[2] == 1);
    CHECK(ag_size(&b) == 24 && ag_itemsize(AG_FLOAT64) == 8 && ag_is_contiguous(&b));
    size_t n = 0;
    CHECK(ag_nbytes(&b, &n, "t", &err) == AG_OK && n == 192);
    b.shape[0] = (int64_t)1 << 40; b.shape[1] = (int64_t)1 << 20;
    CHECK(ag_nbytes(&b, &n, "big", &err) == AG_ERR_MEMORY && strstr(err.message, "big") != NULL);
    ag_error e2 = {0};
    CHECK(ag_fail(&e2, AG_ERR_VALUE, "f: %s %d", "x", 3) == AG_ERR_VALUE);
    CHECK(ag_fail(&e2, AG_ERR_INDEX, "second") == AG_ERR_INDEX && strcmp(e2.message, "f: x 3") == 0);
    return 0;
}

static int binding_and_copy(void)
{
    ag_error err = {0};
    double src[6] = {0, 1, 2, 3, 4, 5};
    int64_t meta[4] = {3, 2, 8, 24};               /* shape (3, 2), byte strides: transposed */
    ag_buffer in;
    CHECK(ag_bind_input(&in, src, meta, AG_FLOAT64, 2, "x", &err) == AG_OK);
    CHECK(in.strides[0] == 1 && in.strides[1] == 3 && !ag_is_contiguous(&in));
    ag_buffer out;
    CHECK(ag_export_copy(&out, &in, "x", &err) == AG_OK);
    double *o = (double *)out.data;
    CHECK(o[0] == 0 && o[1] == 3 && o[2] == 1 && o[3] == 4 && o[4] == 2 && o[5] == 5);
    ag_free(out.data);
    int64_t odd[2] = {2, 12};                      /* 12-byte stride: not whole doubles */
    CHECK(ag_bind_input(&in, src, odd, AG_FLOAT64, 1, "y", &err) == AG_ERR_LAYOUT);
    ag_error e3 = {0};
    CHECK(ag_bind_input(&in, (char *)src + 1, meta, AG_FLOAT64, 2, "z", &e3) == AG_ERR_LAYOUT);
    return 0;
}

static int threads(void)
{
    ag_set_num_threads(3);
    CHECK(ag_get_num_threads() == 3);
    ag_set_num_threads(0);
    CHECK(ag_get_num_threads() >= 1);
    return 0;
}

int main(void)
{
    if (arena() || buffers() || binding_and_copy() || threads())
        return 1;
    printf("ok\n");
    return 0;
}
"""


def test_runtime_c(tmp_path):
    src = tmp_path / "t.c"
    src.write_text(PROGRAM)
    exe = tmp_path / "t"
    root = runtime_c_dir()
    sources = [f"{root}/{n}" for n in ("ag_runtime.c", "ag_workspace.c", "ag_threads.c")]
    cmd = [
        "gcc",
        "-std=gnu11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fopenmp",
        f"-I{root}",
        str(src),
        *sources,
        "-o",
        str(exe),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    proc = subprocess.run(
        [str(exe)], capture_output=True, text=True, env={"AOTGRAPH_NUM_THREADS": "2"}
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr
