/*
 * vtree_i.h - internals shared by the tree builder's files.
 */
#ifndef BOOTSHELF_VTREE_I_H
#define BOOTSHELF_VTREE_I_H

#include <bootshelf/bootgen.h>
#include <bootshelf/vtree.h>

uint64_t bs_hash64(uint64_t h, const void *p, size_t n);

/* New node under @parent (NULL: the root).  NULL on ENOMEM. */
struct bs_vnode *bs_vt_node(struct bs_vtree *t, struct bs_vnode *parent,
			    const char *name, mode_t mode);
/* Existing or new directory; NULL if a file has that name or ENOMEM. */
struct bs_vnode *bs_vt_dir(struct bs_vtree *t, struct bs_vnode *parent,
			   const char *name);
/* File with @blob (reference passes to the tree).  NULL if the name is
 * taken (the first one wins) or ENOMEM. */
struct bs_vnode *bs_vt_file(struct bs_vtree *t, struct bs_vnode *dir,
			    const char *name, struct bs_blob *blob);
/* File from generated text (freed). */
struct bs_vnode *bs_vt_text(struct bs_vtree *t, struct bs_vnode *dir,
			    const char *name, struct bs_text *text);

/* boot/<name>/... for one entry; problems go to st->error.  -ENOMEM only
 * on allocation failure. */
int bs_vt_add_entry(struct bs_vtree *t, struct bs_isocache *cache,
		    struct bs_entry_state *st);
/* pxelinux.cfg/, .bootshelf/ */
int bs_vt_add_configs(struct bs_vtree *t);

#endif
