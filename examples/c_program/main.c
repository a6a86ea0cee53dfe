/* Calls the aotgraph module of affine_spec.py from plain C (no Python):
 * predict on a 2x4 batch, a call with a wrong input (shows the error
 * report), nudge (updates the bias held by the context), predict again.
 *
 * Build and run:  make && ./main */
#include <stdio.h>

#include "affine.h"

static void print_matrix(const char *label, const ag_buffer *m)
{
    const float *v = (const float *)m->data;
    printf("%s %lld %lld\n", label, (long long)m->shape[0], (long long)m->shape[1]);
    for (int64_t i = 0; i < m->shape[0]; i++) {
        for (int64_t j = 0; j < m->shape[1]; j++)
            printf("%s%.9g", j ? " " : "", v[i * m->strides[0] + j * m->strides[1]]);
        printf("\n");
    }
}

/* A float32 matrix view of `data` (C order). */
static ag_buffer matrix_f32(float *data, int64_t rows, int64_t cols)
{
    ag_buffer b = {0};
    b.data = data;
    b.dtype = AG_FLOAT32;
    b.ndim = 2;
    b.shape[0] = rows;
    b.shape[1] = cols;
    b.strides[0] = cols;
    b.strides[1] = 1;
    return b;
}

static int predict_and_print(affine_ctx *ctx, ag_buffer *x, const char *label)
{
    ag_buffer y;
    ag_error err;
    if (affine_predict(ctx, x, &y, &err) != AG_OK) {
        fprintf(stderr, "predict failed: %s\n", err.message);
        return 1;
    }
    print_matrix(label, &y);
    ag_free(y.data); /* outputs belong to the caller */
    return 0;
}

int main(void)
{
    affine_ctx *ctx = NULL;
    ag_error err;
    if (affine_create(&ctx, &err) != AG_OK) {
        fprintf(stderr, "create failed: %s\n", err.message);
        return 1;
    }
    float xs[2 * 4];
    for (int i = 0; i < 8; i++)
        xs[i] = 0.25f * (float)i - 1.0f; /* x[i] = i/4 - 1 */
    ag_buffer x = matrix_f32(xs, 2, 4);
    if (predict_and_print(ctx, &x, "y"))
        return 1;

    /* a wrong input: 3 columns where the spec fixes 4 */
    ag_buffer bad = matrix_f32(xs, 2, 3), y;
    int rc = affine_predict(ctx, &bad, &y, &err);
    printf("error %d %s\n", rc, err.message);

    float d[3] = {0.5f, -0.25f, 1.0f};
    ag_buffer delta = {0};
    delta.data = d;
    delta.dtype = AG_FLOAT32;
    delta.ndim = 1;
    delta.shape[0] = 3;
    delta.strides[0] = 1;
    ag_buffer total;
    if (affine_nudge(ctx, &delta, &total, &err) != AG_OK) {
        fprintf(stderr, "nudge failed: %s\n", err.message);
        return 1;
    }
    printf("nudge %.9g\n", *(const float *)total.data);
    ag_free(total.data);

    ag_buffer bias;
    affine_shared_get(ctx, "b", &bias, &err); /* borrowed: not freed */
    const float *bv = (const float *)bias.data;
    printf("b %.9g %.9g %.9g\n", bv[0], bv[1], bv[2]);
    if (predict_and_print(ctx, &x, "y2"))
        return 1;
    affine_destroy(ctx);
    return 0;
}
