/* ag_runtime.c: errors, sizes, strides, input binding and output memory.
 * See ag_runtime.h for the contract of each function. */
#include "ag_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ag_fail(ag_error *err, int code, const char *fmt, ...)
{
    if (err != NULL && err->code == AG_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, AG_ERRMSG_SIZE, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int ag_abi_version(void)
{
    return AG_ABI_VERSION;
}

int64_t ag_size(const ag_buffer *b)
{
    int64_t n = 1;
    for (int32_t i = 0; i < b->ndim; i++)
        n *= b->shape[i];
    return n;
}

size_t ag_itemsize(int32_t dtype)
{
    switch (dtype) {
    case AG_BOOL: case AG_INT8: case AG_UINT8: return 1;
    case AG_INT16: case AG_UINT16: return 2;
    case AG_INT32: case AG_UINT32: case AG_FLOAT32: return 4;
    case AG_INT64: case AG_UINT64: case AG_FLOAT64: return 8;
    default: return 0;
    }
}

void ag_set_contiguous(ag_buffer *b)
{
    int64_t stride = 1;
    for (int32_t i = b->ndim - 1; i >= 0; i--) {
        b->strides[i] = stride;
        stride *= b->shape[i] > 0 ? b->shape[i] : 1;
    }
}

int ag_nbytes(const ag_buffer *b, size_t *nbytes, const char *what, ag_error *err)
{
    int64_t n = (int64_t)ag_itemsize(b->dtype);
    for (int32_t i = 0; i < b->ndim; i++) {
        int64_t d = b->shape[i];
        if (d < 0)
            return ag_fail(err, AG_ERR_VALUE, "%s: negative length %lld on axis %d", what,
                           (long long)d, (int)i);
        if (d != 0 && n > AG_MAX_BYTES / d)
            return ag_fail(err, AG_ERR_MEMORY, "%s: result too large (over %lld bytes)", what,
                           (long long)AG_MAX_BYTES);
        n *= d;
    }
    *nbytes = (size_t)n;
    return AG_OK;
}

int ag_is_contiguous(const ag_buffer *b)
{
    int64_t stride = 1;
    for (int32_t i = b->ndim - 1; i >= 0; i--) {
        if (b->shape[i] == 0)
            return 1;
        if (b->shape[i] != 1 && b->strides[i] != stride)
            return 0;
        stride *= b->shape[i];
    }
    return 1;
}

int ag_bind_input(ag_buffer *b, void *data, const int64_t *meta, int32_t dtype, int32_t ndim,
                  const char *what, ag_error *err)
{
    int64_t isz = (int64_t)ag_itemsize(dtype);
    if (ndim < 0 || ndim > AG_MAX_NDIM || isz == 0)
        return ag_fail(err, AG_ERR_TYPE, "%s: bad dtype %d or ndim %d", what, (int)dtype,
                       (int)ndim);
    if (((uintptr_t)data % (uintptr_t)isz) != 0)
        return ag_fail(err, AG_ERR_LAYOUT, "%s: data is not aligned to its itemsize", what);
    b->data = data;
    b->dtype = dtype;
    b->ndim = ndim;
    for (int32_t i = 0; i < ndim; i++) {
        int64_t d = meta[i], s = meta[ndim + i];
        if (d < 0)
            return ag_fail(err, AG_ERR_VALUE, "%s: negative length on axis %d", what, (int)i);
        if (s % isz != 0)
            return ag_fail(err, AG_ERR_LAYOUT,
                           "%s: stride %lld bytes on axis %d is not a multiple of the itemsize",
                           what, (long long)s, (int)i);
        b->shape[i] = d;
        b->strides[i] = s / isz;
    }
    return AG_OK;
}

void *ag_alloc(size_t nbytes)
{
    void *p = NULL;
    if (nbytes == 0)
        return NULL;
    if (posix_memalign(&p, 64, nbytes) != 0)
        return NULL;
    return p;
}

void ag_free(void *p)
{
    free(p);
}

/* Copy dimension `dim` onward; `isz`-byte elements. */
static void copy_dim(char *dst, const ag_buffer *d, const char *src, const ag_buffer *s,
                     int32_t dim, size_t isz)
{
    int64_t n = s->shape[dim];
    int64_t ds = d->strides[dim] * (int64_t)isz, ss = s->strides[dim] * (int64_t)isz;
    if (dim == s->ndim - 1) {
        if (ds == (int64_t)isz && ss == (int64_t)isz) {
            memcpy(dst, src, (size_t)n * isz);
            return;
        }
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i * ds, src + i * ss, isz);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        copy_dim(dst + i * ds, d, src + i * ss, s, dim + 1, isz);
}

void ag_copy(ag_buffer *dst, const ag_buffer *src)
{
    size_t isz = ag_itemsize(src->dtype);
    if (ag_size(src) == 0)
        return;
    if (src->ndim == 0) {
        memcpy(dst->data, src->data, isz);
        return;
    }
    if (ag_is_contiguous(src) && ag_is_contiguous(dst)) {
        memcpy(dst->data, src->data, (size_t)ag_size(src) * isz);
        return;
    }
    copy_dim((char *)dst->data, dst, (const char *)src->data, src, 0, isz);
}

int ag_export_copy(ag_buffer *out, const ag_buffer *src, const char *what, ag_error *err)
{
    size_t nbytes = 0;
    int rc = ag_nbytes(src, &nbytes, what, err);
    if (rc != AG_OK)
        return rc;
    *out = *src;
    ag_set_contiguous(out);
    out->data = ag_alloc(nbytes);
    if (out->data == NULL && nbytes != 0)
        return ag_fail(err, AG_ERR_MEMORY, "%s: out of memory allocating %zu bytes", what,
                       nbytes);
    ag_copy(out, src);
    return AG_OK;
}
