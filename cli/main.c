/*
 * main.c - `bootshelf [-c CATALOG] COMMAND ...`: option parsing and
 * dispatch.  The commands live in cmd_*.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bootshelf/log.h>

#include "cli.h"

#define DEFAULT_CATALOG "/etc/bootshelf/bootshelf.conf"

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
	const char *usage;
} cmds[] = {
	{ "check", cli_check, "check                 validate the catalog" },
	{ "list", cli_list, "list                  list entries and hosts" },
	{ "ls", cli_ls, "ls [-l] [PATH]        list the virtual tree" },
	{ "cat", cli_cat, "cat PATH              write a tree file to stdout" },
	{ "inspect", cli_inspect, "inspect ISO           what an ISO is and how "
	  "it can boot" },
	{ "status", cli_status, "status [MOUNTPOINT]   status of a mount (or "
	  "of the catalog)" },
	{ "add", cli_add, "add NAME ISO [KEY=VALUE...]  add an [iso] entry" },
	{ "update", cli_update, "update NAME NEWISO    replace an entry's ISO "
	  "safely (by rename)" },
	{ "rm", cli_rm, "rm NAME               remove an entry" },
	{ "host", cli_host, "host MAC NAME [KEY=VALUE...] | host rm MAC" },
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [-c CATALOG] COMMAND [ARGS]\n\n"
		"Network-boot ISO images from a catalog without copying "
		"them.\n\noptions:\n"
		"  -c, --catalog FILE   catalog (default %s)\n"
		"  -h, --help           this help\n\ncommands:\n",
		prog, DEFAULT_CATALOG);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "\nSee bootshelf(1) and bootshelf.conf(5).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "catalog", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { .prog = "bootshelf" };
	int ch;

	c.catalog = getenv("BOOTSHELF_CATALOG");
	if (!c.catalog)
		c.catalog = DEFAULT_CATALOG;
	bs_log_init("bootshelf", 1, -1);
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			c.catalog = optarg;
			break;
		case 'h':
			usage(stdout, c.prog);
			return 0;
		default:
			usage(stderr, c.prog);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr, c.prog);
		return 2;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			optind++;
			return cmds[i].fn(&c, argc - optind, argv + optind);
		}
	}
	fprintf(stderr, "%s: unknown command '%s'\n", c.prog, argv[optind]);
	usage(stderr, c.prog);
	return 2;
}
