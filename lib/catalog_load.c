/*
 * catalog_load.c - reads a catalog from disk: the main file and the
 * "*.conf" files of the drop-in directory "catalog.d/" beside it, in
 * strcmp order, then hands the texts to bs_catalog_build().
 *
 * Left out: watching for changes (the daemons reload on SIGHUP).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog_i.h"

int bs_catalog_slurp(const char *file, char **buf, size_t *len)
{
	struct stat st;
	size_t n = 0;
	char *b;
	int fd, ret;

	*buf = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((unsigned long long)st.st_size > BS_CATALOG_FILE_MAX) {
		ret = -EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	/* the size may change under us; read what is there, up to it */
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			free(b);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	ret = 0;
out:
	close(fd);
	return ret;
}

void bs_catalog_free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_conf(const char *name)
{
	size_t n = strlen(name);

	/* dot files include the editor's temporary files */
	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".conf");
}

int bs_catalog_dropins(const char *path, char ***files)
{
	const char *slash = strrchr(path, '/');
	char *dir, **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *dp;
	int ret;

	*files = NULL;
	if (slash)
		ret = asprintf(&dir, "%.*s/catalog.d", (int)(slash - path),
			       path);
	else
		ret = asprintf(&dir, "catalog.d");
	if (ret < 0)
		return -ENOMEM;
	dp = opendir(dir);
	if (!dp) {
		ret = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
		free(dir);
		return ret;
	}
	ret = 0;
	while ((de = readdir(dp))) {
		struct stat st;
		char *f, **nv;
		if (!is_conf(de->d_name))
			continue;
		if (asprintf(&f, "%s/%s", dir, de->d_name) < 0) {
			ret = -ENOMEM;
			break;
		}
		if (stat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(f);
			continue;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			free(f);
			ret = -ENOMEM;
			break;
		}
		v = nv;
		v[n++] = f;
	}
	closedir(dp);
	free(dir);
	if (ret) {
		bs_catalog_free_list(v, n);
		return ret;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*files = v;
	return (int)n;
}

int bs_catalog_load(const char *path, struct bs_catalog **out,
		    struct bs_diags *diags)
{
	struct bs_diags local = { 0 };
	struct bs_diags *d = diags ? diags : &local;
	struct bs_cat_src *src = NULL;
	char **files = NULL;
	size_t nsrc = 0;
	size_t nerr0 = d->nerrors;
	int nf, ret;

	*out = NULL;
	nf = bs_catalog_dropins(path, &files);
	if (nf < 0) {
		bs_diags_add(d, BS_DIAG_ERROR, path, 0, "cannot read the "
			     "drop-in directory: %s", strerror(-nf));
		nf = 0;
	}
	src = calloc((size_t)nf + 1, sizeof(*src));
	if (!src) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = -1; i < nf; i++) {
		const char *f = i < 0 ? path : files[i];
		char *text;
		size_t len;
		int r = bs_catalog_slurp(f, &text, &len);
		if (r < 0 && i < 0) {
			bs_diags_add(d, BS_DIAG_ERROR, f, 0, "cannot read: %s",
				     strerror(-r));
			ret = r;
			goto out;
		}
		if (r < 0) {
			bs_diags_add(d, BS_DIAG_ERROR, f, 0, "cannot read: %s",
				     strerror(-r));
			continue;
		}
		src[nsrc].file = f;
		src[nsrc].text = text;
		src[nsrc++].len = len;
	}
	ret = bs_catalog_build(path, src, nsrc, out, d);
	/* a drop-in that could not be read makes the catalog invalid */
	if (ret == 0 && d->nerrors > nerr0) {
		bs_catalog_free(*out);
		*out = NULL;
		ret = -EINVAL;
	}
out:
	for (size_t i = 0; src && i < nsrc; i++)
		free((char *)src[i].text);
	free(src);
	bs_catalog_free_list(files, (size_t)(nf > 0 ? nf : 0));
	bs_diags_free(&local);
	return ret;
}
