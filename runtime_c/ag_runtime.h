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
    AG_ERR_RUNTIME = 5  /* anything else (BLAS missing, CUDA, ...): RuntimeError */
};

#define AG_ERRMSG_SIZE 512

/* Per-call error report: code plus a message naming what went wrong. */
typedef struct ag_error {
    int32_t code;
    char message[AG_ERRMSG_SIZE];
} ag_error;

/* Record an error (printf-style message) and return its code. */
int ag_fail(ag_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Number of elements of a buffer (product of its shape). */
int64_t ag_size(const ag_buffer *b);

/* Size in bytes of one element of dtype code `dtype`. */
size_t ag_itemsize(int32_t dtype);

/* Set strides of `b` to C-contiguous for its shape. */
void ag_set_contiguous(ag_buffer *b);

#ifdef __cplusplus
}
#endif
#endif /* AG_RUNTIME_H */
