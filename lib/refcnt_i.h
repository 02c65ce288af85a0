/*
 * refcnt_i.h - the reference count every shared library object uses
 * (sources, blobs, ISO indexes, snapshots).  Atomic: snapshots and
 * blobs are shared between reader threads.
 */
#ifndef BOOTSHELF_REFCNT_I_H
#define BOOTSHELF_REFCNT_I_H

static inline void bs_ref_get(int *refs)
{
	__atomic_add_fetch(refs, 1, __ATOMIC_RELAXED);
}

/* Drop one reference; non-zero when it was the last one. */
static inline int bs_ref_put(int *refs)
{
	return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

#endif
