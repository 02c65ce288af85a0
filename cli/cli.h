/*
 * cli.h - the bootshelf command's subcommands.  Each returns the process
 * exit status: 0 success, 1 failure (message printed), 2 usage error.
 */
#ifndef BOOTSHELF_CLI_H
#define BOOTSHELF_CLI_H

#include <bootshelf/vtree.h>

struct cli {
	const char *catalog;	/* -c, default /etc/bootshelf/bootshelf.conf */
	const char *prog;
};

int cli_check(struct cli *c, int argc, char **argv);
int cli_list(struct cli *c, int argc, char **argv);
int cli_ls(struct cli *c, int argc, char **argv);
int cli_cat(struct cli *c, int argc, char **argv);
int cli_inspect(struct cli *c, int argc, char **argv);
int cli_status(struct cli *c, int argc, char **argv);
int cli_add(struct cli *c, int argc, char **argv);
int cli_rm(struct cli *c, int argc, char **argv);
int cli_host(struct cli *c, int argc, char **argv);
int cli_update(struct cli *c, int argc, char **argv);

/* Open the catalog's shelf; prints diagnostics.  NULL on failure. */
struct bs_shelf *cli_open_shelf(struct cli *c);
/* Print diagnostics as FILE:LINE: ... to stderr; returns nerrors. */
size_t cli_print_diags(const struct bs_diags *d);

#endif
