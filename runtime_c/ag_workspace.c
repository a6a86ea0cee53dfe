/* ag_workspace.c: the per-call bump arena (ag_ws).
 *
 * Blocks are malloc'ed on demand, each at least twice the size of all
 * blocks before it, so a call needs O(log n) mallocs.  Each thread
 * remembers the most memory one of its calls used (its hint): the first
 * block of a later call has at least that size, and on release one block of
 * that size stays cached, so steady-state calls do not touch malloc. */
#include "ag_runtime.h"

#include <stdlib.h>

#define AG_WS_ALIGN 64
#define AG_WS_MIN_BLOCK ((size_t)1 << 16)
#define AG_WS_MAX_CACHED ((size_t)1 << 28)

struct ag_ws_block {
    ag_ws_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
};

/* header rounded up so that block data stays 64-byte aligned */
#define AG_WS_HEADER ((sizeof(ag_ws_block) + AG_WS_ALIGN - 1) & ~(size_t)(AG_WS_ALIGN - 1))

static _Thread_local ag_ws_block *cached_block;
static _Thread_local size_t size_hint; /* most bytes one call of this thread used */
static char empty_allocation[AG_WS_ALIGN] __attribute__((aligned(AG_WS_ALIGN)));

void ag_ws_init(ag_ws *ws)
{
    ws->head = cached_block;
    ws->total = cached_block ? cached_block->size : 0;
    cached_block = NULL;
}

static ag_ws_block *new_block(size_t size)
{
    void *p = NULL;
    if (size > SIZE_MAX - AG_WS_HEADER || posix_memalign(&p, AG_WS_ALIGN, AG_WS_HEADER + size))
        return NULL;
    ag_ws_block *b = (ag_ws_block *)p;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void *ag_ws_alloc(ag_ws *ws, size_t nbytes)
{
    if (nbytes == 0)
        return empty_allocation;
    if (nbytes > SIZE_MAX - AG_WS_ALIGN)
        return NULL;
    size_t rounded = (nbytes + AG_WS_ALIGN - 1) & ~(size_t)(AG_WS_ALIGN - 1);
    ag_ws_block *b = ws->head;
    if (b == NULL || b->size - b->used < rounded) {
        size_t size = 2 * ws->total;
        if (b == NULL && size < size_hint)
            size = size_hint;
        if (size < rounded)
            size = rounded;
        if (size < AG_WS_MIN_BLOCK)
            size = AG_WS_MIN_BLOCK;
        ag_ws_block *nb = new_block(size);
        if (nb == NULL && size > rounded)
            nb = new_block(rounded);
        if (nb == NULL)
            return NULL;
        nb->next = ws->head;
        ws->head = nb;
        ws->total += nb->size;
        b = nb;
    }
    void *p = (char *)b + AG_WS_HEADER + b->used;
    b->used += rounded;
    return p;
}

void ag_ws_release(ag_ws *ws)
{
    ag_ws_block *keep = NULL;
    size_t used = 0;
    for (ag_ws_block *b = ws->head; b != NULL; b = b->next)
        used += b->used;
    if (used > size_hint)
        size_hint = used < AG_WS_MAX_CACHED ? used : AG_WS_MAX_CACHED;
    for (ag_ws_block *b = ws->head; b != NULL;) {
        ag_ws_block *next = b->next;
        if (keep == NULL || b->size > keep->size) {
            if (keep != NULL)
                free(keep);
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    /* keep a block only when it fits the next call whole */
    if (keep != NULL && keep->size >= size_hint && keep->size <= AG_WS_MAX_CACHED &&
        cached_block == NULL) {
        keep->used = 0;
        keep->next = NULL;
        cached_block = keep;
    } else if (keep != NULL) {
        free(keep);
    }
    ws->head = NULL;
    ws->total = 0;
}
