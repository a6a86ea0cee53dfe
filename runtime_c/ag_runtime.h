/* ag_runtime.h: the public interface of aotgraph's C runtime.
 *
 * Everything generated code and the runtime share: the buffer ABI, dtype
 * codes, error reporting and workspace allocation.  Every exported symbol
 * is prefixed ag_; everything else in the runtime has hidden visibility.
 * Errors travel as a code plus a message; the runtime never aborts.
 */
#ifndef AG_RUNTIME_H
#define AG_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AG_ABI_VERSION 1
#define AG_MAX_NDIM 16

/* Exported runtime symbols; everything else is built -fvisibility=hidden. */
#if defined(__GNUC__)
#define AG_EXPORT __attribute__((visibility("default")))
#else
#define AG_EXPORT
#endif

/* dtype codes (stable: they appear in the IR and in built modules) */
enum ag_dtype {
    AG_BOOL = 0,
    AG_INT8 = 1,
    AG_INT16 = 2,
    AG_INT32 = 3,
    AG_INT64 = 4,
    AG_UINT8 = 5,
    AG_UINT16 = 6,
    AG_UINT32 = 7,
    AG_UINT64 = 8,
    AG_FLOAT32 = 9,
    AG_FLOAT64 = 10
};

/* A strided view of a tensor.
 *   data     address of element [0, 0, ...]; may be NULL when size is 0
 *   dtype    one of enum ag_dtype
 *   ndim     number of dimensions, 0 <= ndim <= AG_MAX_NDIM
 *   shape    length of each dimension (>= 0); entries past ndim unused
 *   strides  distance between consecutive elements of each dimension, in
 *            ELEMENTS (not bytes); may be 0 (broadcast) or negative
 */
typedef struct ag_buffer {
    void *data;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[AG_MAX_NDIM];
    int64_t strides[AG_MAX_NDIM];
} ag_buffer;

/* error codes returned by every entry point (0 = success) */
enum ag_status {
    AG_OK = 0,
    AG_ERR_VALUE = 1,   /* bad shapes or values: Python ValueError */
    AG_ERR_INDEX = 2,   /* index out of bounds: Python IndexError */
    AG_ERR_TYPE = 3,    /* wrong dtype / ndim: Python TypeError */
    AG_ERR_MEMORY = 4,  /* allocation failed: Python MemoryError */
    AG_ERR_RUNTIME = 5, /* anything else (BLAS missing, CUDA, ...): RuntimeError */
    AG_ERR_LAYOUT = 6   /* an input is misaligned or has strides that are not whole
                           elements: the caller passes a contiguous copy instead */
};

#define AG_ERRMSG_SIZE 512

/* Per-call error report: code plus a message naming what went wrong. */
typedef struct ag_error {
    int32_t code;
    char message[AG_ERRMSG_SIZE];
} ag_error;

/* Record an error (printf-style message) and return its code. */
AG_EXPORT int ag_fail(ag_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Number of elements of a buffer (product of its shape). */
AG_EXPORT int64_t ag_size(const ag_buffer *b);

/* Size in bytes of one element of dtype code `dtype`. */
AG_EXPORT size_t ag_itemsize(int32_t dtype);

/* Set strides of `b` to C-contiguous for its shape. */
AG_EXPORT void ag_set_contiguous(ag_buffer *b);

/* AG_ABI_VERSION of the runtime compiled into this binary (a loader compares
 * it with the version the caller was generated for and refuses a mismatch). */
AG_EXPORT int ag_abi_version(void);

/* ---- additions of ABI version 1 (runtime_c/ag_runtime.c) ---------------- */

/* Byte size of `b`'s elements into *nbytes; AG_ERR_MEMORY (with a message
 * naming `what`) when the size overflows or exceeds AG_MAX_BYTES. */
#define AG_MAX_BYTES ((int64_t)1 << 46)
AG_EXPORT int ag_nbytes(const ag_buffer *b, size_t *nbytes, const char *what, ag_error *err);

/* Whether `b` is C-contiguous (length-1 and empty dimensions ignored). */
AG_EXPORT int ag_is_contiguous(const ag_buffer *b);

/* Describe an input: shape from meta[0..ndim), strides from meta[ndim..2ndim)
 * in BYTES (converted to elements).  AG_ERR_LAYOUT when the data is not
 * aligned to its itemsize or a stride is not a multiple of it. */
AG_EXPORT int ag_bind_input(ag_buffer *b, void *data, const int64_t *meta, int32_t dtype,
                            int32_t ndim, const char *what, ag_error *err);

/* Heap memory handed to the caller (outputs): 64-byte aligned, freed with
 * ag_free.  ag_alloc(0) returns NULL. */
AG_EXPORT void *ag_alloc(size_t nbytes);
AG_EXPORT void ag_free(void *p);

/* Copy the elements of `src` into `dst` (same dtype and shape; any strides). */
AG_EXPORT void ag_copy(ag_buffer *dst, const ag_buffer *src);

/* Make `out` a freshly ag_alloc'ed C-contiguous copy of `src`. */
AG_EXPORT int ag_export_copy(ag_buffer *out, const ag_buffer *src, const char *what,
                             ag_error *err);

/* ---- per-call workspace (runtime_c/ag_workspace.c) ----------------------
 * A bump arena: ag_ws_alloc returns 64-byte aligned scratch memory valid
 * until ag_ws_release.  Memory is never returned piecemeal.  Each thread keeps
 * its largest block between calls, so steady-state calls do not malloc. */
typedef struct ag_ws_block ag_ws_block;
typedef struct ag_ws {
    ag_ws_block *head; /* current block; older blocks follow via ->next */
    size_t total;      /* bytes in all blocks */
} ag_ws;

AG_EXPORT void ag_ws_init(ag_ws *ws);
AG_EXPORT void *ag_ws_alloc(ag_ws *ws, size_t nbytes); /* NULL when out of memory */
AG_EXPORT void ag_ws_release(ag_ws *ws);

/* ---- threads (runtime_c/ag_threads.c) ------------------------------------
 * Threads one call may use: set by ag_set_num_threads (n <= 0 restores the
 * default: $AOTGRAPH_NUM_THREADS, else OpenMP's maximum, else 1). */
AG_EXPORT void ag_set_num_threads(int n);
AG_EXPORT int ag_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* AG_RUNTIME_H */
