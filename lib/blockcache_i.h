/*
 * blockcache_i.h - block cache internals shared with the remote sources.
 */
#ifndef BS_BLOCKCACHE_I_H
#define BS_BLOCKCACHE_I_H

#include <stddef.h>

#include <bootshelf/remote.h>

/**
 * While the cache grows, have the kernel populate the pages of up to
 * @step more fresh block buffers, so that @ahead buffers (free or
 * populated) wait for the thread that fills them.  For a thread that
 * would otherwise wait.  Never more buffers in all than the cache holds
 * plus @ahead.
 * @ret buffers populated now (0: nothing to do)
 */
size_t bs_blockcache_prepare(struct bs_blockcache *c, size_t ahead,
			     size_t step);

#endif
