/* ag_index.h: numpy indexing for the emitted kernels (header-only).
 *
 * An index plan describes x[idx] as: a base offset, result axes that are
 * either "basic" (a slice or a new axis: a length and a stride into x) or
 * one of the broadcast axes of the advanced entries (integer arrays, ints
 * in advanced mode, boolean masks turned into coordinate arrays).  The
 * generated code builds a plan entry by entry (its order is static), then
 * ag_index_finish places the broadcast axes as numpy does; gather and
 * scatter walk the result positions in C order.  Out-of-range indices are
 * reported with AG_ERR_INDEX naming the op, the axis, the index and the
 * length; increments of duplicate positions accumulate (np.add.at).
 */
#ifndef AG_INDEX_H
#define AG_INDEX_H

#include <stdint.h>
#include <string.h>

#include "ag_kernels.h"
#include "ag_runtime.h"

typedef struct ag_adv_entry {
    const void *data; /* index values (integer dtype `dtype`) */
    int32_t dtype;
    int32_t ndim;
    int64_t shape[AG_MAX_NDIM];
    int64_t strides[AG_MAX_NDIM]; /* of the index array, elements */
    int64_t bstrides[AG_MAX_NDIM]; /* aligned to the broadcast shape */
    int axis;                      /* the x axis it indexes */
    int64_t len, xstride;          /* that axis's length and stride */
} ag_adv_entry;

typedef struct ag_index_plan {
    int ndim; /* result */
    int64_t shape[AG_MAX_NDIM];
    int64_t xstride[AG_MAX_NDIM]; /* basic result axes: stride into x */
    int advpos[AG_MAX_NDIM];      /* -1 basic, else broadcast axis */
    int64_t base;
    int nadv;
    ag_adv_entry adv[AG_MAX_NDIM];
    int nb;
    int64_t bshape[AG_MAX_NDIM];
} ag_index_plan;

static inline int64_t ag_read_index(const void *p, int32_t dtype, int64_t i)
{
    switch (dtype) {
    case AG_INT8: return ((const int8_t *)p)[i];
    case AG_INT16: return ((const int16_t *)p)[i];
    case AG_INT32: return ((const int32_t *)p)[i];
    case AG_INT64: return ((const int64_t *)p)[i];
    case AG_UINT8: return ((const uint8_t *)p)[i];
    case AG_UINT16: return ((const uint16_t *)p)[i];
    case AG_UINT32: return ((const uint32_t *)p)[i];
    case AG_UINT64: {
        uint64_t v = ((const uint64_t *)p)[i];
        return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    default: return ((const uint8_t *)p)[i];
    }
}

/* Python's slice.indices(n): start and length of x[start:stop:step];
 * has_* = 0 for an absent bound. */
static inline void ag_slice(int64_t n, int has_start, int64_t start, int has_stop, int64_t stop,
                            int64_t step, int64_t *first, int64_t *len)
{
    if (!has_start) start = step < 0 ? n - 1 : 0;
    else if (start < 0) { start += n; if (start < 0) start = step < 0 ? -1 : 0; }
    else if (start >= n) start = step < 0 ? n - 1 : n;
    if (!has_stop) stop = step < 0 ? -1 : n;
    else if (stop < 0) { stop += n; if (stop < 0) stop = -1; }
    else if (stop >= n) stop = step < 0 ? n - 1 : n;
    if (step > 0) *len = stop > start ? (stop - start - 1) / step + 1 : 0;
    else *len = start > stop ? (start - stop - 1) / (-step) + 1 : 0;
    *first = start;
}

static inline void ag_index_init(ag_index_plan *p)
{
    memset(p, 0, sizeof *p);
}

static inline int ag_index_basic(ag_index_plan *p, int64_t len, int64_t xstride)
{
    if (p->ndim >= AG_MAX_NDIM) return -1;
    p->shape[p->ndim] = len;
    p->xstride[p->ndim] = xstride;
    p->advpos[p->ndim] = -1;
    p->ndim++;
    return 0;
}

static inline int ag_check_index(int64_t v, int axis, int64_t n, const char *where, ag_error *err)
{
    if (v < -n || v >= n)
        return ag_fail(err, AG_ERR_INDEX, "%s: index %lld is out of bounds for axis %d with length %lld",
                       where, (long long)v, axis, (long long)n);
    return AG_OK;
}

/* One integer (basic mode): bounds-checked, folded into the base. */
static inline int ag_index_int(ag_index_plan *p, int64_t v, int axis, int64_t n, int64_t stride,
                               const char *where, ag_error *err)
{
    if (v < -n || v >= n)
        return ag_fail(err, AG_ERR_INDEX, "%s: index %lld is out of bounds for axis %d with length %lld",
                       where, (long long)v, axis, (long long)n);
    p->base += (v < 0 ? v + n : v) * stride;
    return AG_OK;
}

static inline int ag_index_slice(ag_index_plan *p, int has_start, int64_t start, int has_stop,
                                 int64_t stop, int64_t step, int64_t n, int64_t stride,
                                 const char *where, ag_error *err)
{
    int64_t first, len;
    if (step == 0) return ag_fail(err, AG_ERR_VALUE, "%s: slice step cannot be zero", where);
    ag_slice(n, has_start, start, has_stop, stop, step, &first, &len);
    if (len > 0) p->base += first * stride;
    if (ag_index_basic(p, len, step * stride))
        return ag_fail(err, AG_ERR_INDEX, "%s: too many dimensions", where);
    return AG_OK;
}

/* An integer array (or 0-d integer) indexing x axis `axis`. */
static inline int ag_index_array(ag_index_plan *p, const ag_buffer *a, int axis, int64_t n,
                                 int64_t stride)
{
    if (p->nadv >= AG_MAX_NDIM) return -1;
    ag_adv_entry *e = &p->adv[p->nadv++];
    e->data = a->data;
    e->dtype = a->dtype;
    e->ndim = a->ndim;
    for (int d = 0; d < a->ndim; d++) { e->shape[d] = a->shape[d]; e->strides[d] = a->strides[d]; }
    e->axis = axis;
    e->len = n;
    e->xstride = stride;
    return 0;
}

/* A k-d boolean mask over x axes [axis, axis + k): its true positions
 * become k coordinate arrays (int64, in workspace memory). */
static inline int ag_index_mask(ag_index_plan *p, const ag_buffer *m, const ag_buffer *x, int axis,
                                ag_ws *ws, const char *where, ag_error *err)
{
    int k = m->ndim;
    for (int j = 0; j < k; j++) /* numpy lets a length-0 mask axis pass */
        if (m->shape[j] != x->shape[axis + j] && m->shape[j] != 0)
            return ag_fail(err, AG_ERR_INDEX,
                           "%s: boolean index did not match indexed array along axis %d; size of "
                           "axis is %lld but size of corresponding boolean axis is %lld",
                           where, axis + j, (long long)x->shape[axis + j], (long long)m->shape[j]);
    int64_t total = ag_size(m), count = 0, idx[AG_MAX_NDIM] = {0};
    const uint8_t *md = (const uint8_t *)m->data;
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0, r = i;
        for (int d = k - 1; d >= 0; d--) { off += (r % m->shape[d]) * m->strides[d]; r /= m->shape[d]; }
        count += md[off] != 0;
    }
    int64_t *coords = (int64_t *)ag_ws_alloc(ws, sizeof(int64_t) * (size_t)(k * count + 1));
    if (!coords) return ag_fail(err, AG_ERR_MEMORY, "%s: out of memory", where);
    int64_t c = 0;
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0, r = i;
        for (int d = k - 1; d >= 0; d--) { idx[d] = r % m->shape[d]; r /= m->shape[d]; off += idx[d] * m->strides[d]; }
        if (md[off]) { for (int j = 0; j < k; j++) coords[j * count + c] = idx[j]; c++; }
    }
    for (int j = 0; j < k; j++) {
        ag_buffer a;
        memset(&a, 0, sizeof a);
        a.data = coords + j * count;
        a.dtype = AG_INT64;
        a.ndim = 1;
        a.shape[0] = count;
        a.strides[0] = 1;
        if (ag_index_array(p, &a, axis + j, x->shape[axis + j], x->strides[axis + j]))
            return ag_fail(err, AG_ERR_INDEX, "%s: too many index arrays", where);
    }
    return AG_OK;
}

/* Broadcast the advanced entries and insert their axes at result
 * position `adv_at` (numpy: where the advanced block is, when contiguous;
 * first otherwise). */
/* numpy checks every index of the broadcast index space (even when the
 * result is empty because of a basic axis). */
static inline int ag_index_check(const ag_index_plan *p, const char *where, ag_error *err)
{
    int nb = p->nb;
    int64_t nbt = 1;
    for (int d = 0; d < nb; d++) nbt *= p->bshape[d];
    for (int64_t i = 0; i < nbt; i++)
        for (int e = 0; e < p->nadv; e++) {
            const ag_adv_entry *a = &p->adv[e];
            int64_t off = 0, r = i;
            for (int d = nb - 1; d >= 0; d--) { off += (r % p->bshape[d]) * a->bstrides[d]; r /= p->bshape[d]; }
            int64_t v = ag_read_index(a->data, a->dtype, off);
            if (v < -a->len || v >= a->len)
                return ag_fail(err, AG_ERR_INDEX, "%s: index %lld is out of bounds for axis %d with length %lld",
                               where, (long long)v, a->axis, (long long)a->len);
        }
    return AG_OK;
}

static inline int ag_index_finish(ag_index_plan *p, int adv_at, int check, const char *where,
                                  ag_error *err)
{
    if (p->nadv == 0) return AG_OK;
    int nb = 0;
    for (int e = 0; e < p->nadv; e++) nb = p->adv[e].ndim > nb ? p->adv[e].ndim : nb;
    for (int d = 0; d < nb; d++) p->bshape[d] = 1;
    for (int e = 0; e < p->nadv; e++) {
        ag_adv_entry *a = &p->adv[e];
        int lead = nb - a->ndim;
        for (int d = 0; d < a->ndim; d++) {
            int64_t len = a->shape[d], *o = &p->bshape[lead + d];
            if (len == 1) continue;
            if (*o == 1) *o = len;
            else if (*o != len)
                return ag_fail(err, AG_ERR_INDEX, "%s: shape mismatch: indexing arrays could not be "
                               "broadcast together (axis %d: %lld vs %lld)", where, lead + d,
                               (long long)*o, (long long)len);
        }
    }
    if (p->ndim + nb > AG_MAX_NDIM) return ag_fail(err, AG_ERR_INDEX, "%s: too many dimensions", where);
    for (int e = 0; e < p->nadv; e++) {
        ag_adv_entry *a = &p->adv[e];
        int lead = nb - a->ndim;
        for (int d = 0; d < nb; d++)
            a->bstrides[d] = d < lead || a->shape[d - lead] == 1 ? 0 : a->strides[d - lead];
    }
    p->nb = nb;
    if (check) {
        int rc = ag_index_check(p, where, err);
        if (rc) return rc;
    }
    for (int d = p->ndim - 1; d >= adv_at; d--) {
        p->shape[d + nb] = p->shape[d];
        p->xstride[d + nb] = p->xstride[d];
        p->advpos[d + nb] = p->advpos[d];
    }
    for (int d = 0; d < nb; d++) {
        p->shape[adv_at + d] = p->bshape[d];
        p->xstride[adv_at + d] = 0;
        p->advpos[adv_at + d] = d;
    }
    p->ndim += nb;
    return AG_OK;
}

/* x offset of result position `pos` (a multi-index), bounds-checked. */
static inline int ag_index_offset(const ag_index_plan *p, const int64_t *pos, int64_t *off,
                                  const char *where, ag_error *err)
{
    int64_t o = p->base, bpos[AG_MAX_NDIM];
    for (int d = 0; d < p->ndim; d++) {
        if (p->advpos[d] < 0) o += pos[d] * p->xstride[d];
        else bpos[p->advpos[d]] = pos[d];
    }
    for (int e = 0; e < p->nadv; e++) {
        const ag_adv_entry *a = &p->adv[e];
        int64_t ai = 0;
        for (int d = 0; d < p->nb; d++) ai += bpos[d] * a->bstrides[d];
        int64_t v = ag_read_index(a->data, a->dtype, ai);
        if (v < -a->len || v >= a->len)
            return ag_fail(err, AG_ERR_INDEX, "%s: index %lld is out of bounds for axis %d with length %lld",
                           where, (long long)v, a->axis, (long long)a->len);
        o += (v < 0 ? v + a->len : v) * a->xstride;
    }
    *off = o;
    return AG_OK;
}

static inline int64_t ag_plan_size(const ag_index_plan *p)
{
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++) n *= p->shape[d];
    return n;
}

static inline void ag_plan_next(const ag_index_plan *p, int64_t *pos)
{
    for (int d = p->ndim - 1; d >= 0; d--) {
        if (++pos[d] < p->shape[d]) return;
        pos[d] = 0;
    }
}

/* out (contiguous, the plan's shape) = x[plan] */
static inline int ag_index_gather(const ag_index_plan *p, const ag_buffer *x, ag_buffer *out,
                                  const char *where, ag_error *err)
{
    size_t isz = ag_itemsize(x->dtype);
    int64_t n = ag_plan_size(p), pos[AG_MAX_NDIM] = {0}, off;
    const char *src = (const char *)x->data;
    char *dst = (char *)out->data;
    for (int64_t i = 0; i < n; i++, ag_plan_next(p, pos)) {
        int rc = ag_index_offset(p, pos, &off, where, err);
        if (rc) return rc;
        memcpy(dst + (size_t)i * isz, src + off * (int64_t)isz, isz);
    }
    return AG_OK;
}

#define AG_SCATTER_CASE(code, T, ADD)                                      \
    case code: {                                                           \
        T *xp = (T *)x->data + off;                                        \
        T yv = ((const T *)y->data)[yoff];                                 \
        *xp = set ? yv : (T)(ADD);                                         \
        break;                                                             \
    }

/* x[plan] = y (set) or x[plan] += y with duplicates accumulating; y
 * broadcasts to the plan's shape. */
static inline int ag_index_scatter(const ag_index_plan *p, ag_buffer *x, const ag_buffer *y,
                                   int set, const char *where, ag_error *err)
{
    int64_t ys[AG_MAX_NDIM], pos[AG_MAX_NDIM] = {0}, off;
    int lead = p->ndim - y->ndim;
    for (int d = 0; d < y->ndim; d++)
        if (lead < 0 || (y->shape[d] != 1 && y->shape[d] != p->shape[lead + d])) {
            char s0[96], s1[96];
            return ag_fail(err, AG_ERR_VALUE, "%s: a value of shape %s cannot be broadcast to the "
                           "indexed shape %s", where, ag_shape_text(y, s0, sizeof s0),
                           ag_dims_text(p->shape, p->ndim, s1, sizeof s1));
        }
    int rc0 = ag_index_check(p, where, err);
    if (rc0) return rc0;
    for (int d = 0; d < p->ndim; d++)
        ys[d] = d < lead || y->shape[d - lead] == 1 ? 0 : y->strides[d - lead];
    int64_t n = ag_plan_size(p);
    for (int64_t i = 0; i < n; i++, ag_plan_next(p, pos)) {
        int rc = ag_index_offset(p, pos, &off, where, err);
        if (rc) return rc;
        int64_t yoff = 0;
        for (int d = 0; d < p->ndim; d++) yoff += pos[d] * ys[d];
        switch (x->dtype) {
            AG_SCATTER_CASE(AG_BOOL, uint8_t, *xp | yv)
            AG_SCATTER_CASE(AG_INT8, int8_t, (uint32_t)*xp + (uint32_t)yv)
            AG_SCATTER_CASE(AG_INT16, int16_t, (uint32_t)*xp + (uint32_t)yv)
            AG_SCATTER_CASE(AG_INT32, int32_t, (uint32_t)*xp + (uint32_t)yv)
            AG_SCATTER_CASE(AG_INT64, int64_t, (uint64_t)*xp + (uint64_t)yv)
            AG_SCATTER_CASE(AG_UINT8, uint8_t, *xp + yv)
            AG_SCATTER_CASE(AG_UINT16, uint16_t, *xp + yv)
            AG_SCATTER_CASE(AG_UINT32, uint32_t, *xp + yv)
            AG_SCATTER_CASE(AG_UINT64, uint64_t, *xp + yv)
            AG_SCATTER_CASE(AG_FLOAT32, float, *xp + yv)
            AG_SCATTER_CASE(AG_FLOAT64, double, *xp + yv)
        default: return ag_fail(err, AG_ERR_TYPE, "%s: unsupported dtype", where);
        }
    }
    return AG_OK;
}

#endif /* AG_INDEX_H */
