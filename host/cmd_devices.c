/*
 * cmd_devices.c - `sampan devices` and `sampan info`: what can be opened,
 * and what an opened device reports about itself.
 */
#include <stdlib.h>

#include "cli.h"

static const char devices_help[] =
    "usage: sampan devices [--json]\n"
    "\n"
    "Lists the devices this build knows (always sim and cpu, plus attached\n"
    "boards) and whether each can be opened now.\n"
    "\n"
    "      --json     print one JSON object on stdout:\n"
    "                 {\"devices\": [{\"name\", \"description\", \"available\"}]}\n"
    "  -h, --help     this help\n";

static const char info_help[] =
    "usage: sampan info [-d DEV] [--json]\n"
    "\n"
    "Opens a device and prints what it reports: array size, buffer depths,\n"
    "bus width, clock, card memory and hardware version.\n"
    "\n"
    "  -d, --device DEV   device to open (default: sim); see 'sampan devices'\n"
    "      --json         print one JSON object on stdout\n"
    "  -h, --help         this help\n";

enum { OPT_HELP = 1, OPT_DEVICE, OPT_JSON };

static const struct cli_option devices_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"json", 0, false, OPT_JSON},
    {NULL, 0, false, 0},
};

static const struct cli_option info_options[] = {
    {"help", 'h', false, OPT_HELP},
    {"device", 'd', true, OPT_DEVICE},
    {"json", 0, false, OPT_JSON},
    {NULL, 0, false, 0},
};

/* Parses the options shared by devices and info; returns an exit code, or
 * -1 after printing @help. */
static int parse_simple(int argc, char **argv, const struct cli_option *opts, const char *help,
                        const char **device, bool *json)
{
	struct cli_parser p;
	const char *v;
	int id;

	cli_parser_init(&p, argc, argv);
	while ((id = cli_next_option(&p, opts, &v)) > 0) {
		if (id == OPT_HELP) {
			fputs(help, stdout);
			return -1;
		}
		if (id == OPT_DEVICE)
			*device = v;
		else
			*json = true;
	}
	return id == CLI_OPT_ERROR ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

int cmd_devices(int argc, char **argv)
{
	struct sampan_device_desc *list = NULL, *bigger;
	const char *device = NULL;
	size_t count = 0, max = 8;
	bool json = false;
	int ret, err;

	ret = parse_simple(argc, argv, devices_options, devices_help, &device, &json);
	if (ret != CLI_EXIT_OK)
		return ret < 0 ? CLI_EXIT_OK : ret;
	/* Grow the array until the whole list fits. */
	for (;;) {
		bigger = realloc(list, max * sizeof(*list));
		if (!bigger) {
			cli_error("out of memory");
			ret = CLI_EXIT_FAIL;
			goto out_free;
		}
		list = bigger;
		err = sampan_list_devices(list, max, &count);
		if (err != SAMPAN_OK) {
			ret = cli_library_error("cannot list devices", err);
			goto out_free;
		}
		if (count <= max)
			break;
		max = count;
	}
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_array_begin(&j, "devices");
		for (size_t i = 0; i < count; i++) {
			json_object_begin(&j, NULL);
			json_string(&j, "name", list[i].name);
			json_string(&j, "description", list[i].description);
			json_bool(&j, "available", list[i].available);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%-20s %-10s %s\n", "NAME", "AVAILABLE", "DESCRIPTION");
		for (size_t i = 0; i < count; i++)
			printf("%-20s %-10s %s\n", list[i].name, list[i].available ? "yes" : "no",
			       list[i].description);
	}
	ret = CLI_EXIT_OK;
out_free:
	free(list);
	return ret;
}

int cmd_info(int argc, char **argv)
{
	struct sampan_device *dev;
	struct sampan_info info;
	const char *device = NULL;
	bool json = false;
	int ret;

	ret = parse_simple(argc, argv, info_options, info_help, &device, &json);
	if (ret != CLI_EXIT_OK)
		return ret < 0 ? CLI_EXIT_OK : ret;
	ret = cli_open_device(device, &dev, &info);
	if (ret != CLI_EXIT_OK)
		return ret;
	if (json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_string(&j, "device", info.name);
		json_string(&j, "backend", info.backend);
		json_uint(&j, "rows", info.rows);
		json_uint(&j, "cols", info.cols);
		json_uint(&j, "k_depth", info.k_depth);
		json_uint(&j, "acc_slots", info.acc_slots);
		json_uint(&j, "param_entries", info.param_entries);
		json_uint(&j, "bus_bytes", info.bus_bytes);
		json_uint(&j, "clock_mhz", info.clock_mhz);
		json_uint(&j, "mem_bytes", info.mem_bytes);
		json_uint(&j, "mem_used", info.mem_used);
		json_uint(&j, "hw_version", info.hw_version);
		json_array_begin(&j, "features");
		if (info.features & SAMPAN_FEATURE_BLOCK_SCALED)
			json_string(&j, NULL, "block_scaled");
		if (info.features & SAMPAN_FEATURE_MATVEC)
			json_string(&j, NULL, "matvec");
		json_array_end(&j);
		json_uint(&j, "mv_rows", info.mv_rows);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("device         %s\n", info.name);
		printf("backend        %s\n", info.backend);
		printf("array          %u x %u (rows x cols)\n", info.rows, info.cols);
		printf("k_depth        %u k-steps per operand bank\n", info.k_depth);
		printf("acc_slots      %u accumulator tiles\n", info.acc_slots);
		printf("param_entries  %u requantizer entries\n", info.param_entries);
		printf("bus_bytes      %u bytes per cycle\n", info.bus_bytes);
		if (info.clock_mhz)
			printf("clock_mhz      %u\n", info.clock_mhz);
		else
			printf("clock_mhz      0 (no clock: functional model)\n");
		printf("mem_bytes      %llu (%.0f MiB)\n", (unsigned long long)info.mem_bytes,
		       (double)info.mem_bytes / (1 << 20));
		printf("mem_used       %llu bytes of card memory in use\n",
		       (unsigned long long)info.mem_used);
		printf("hw_version     0x%08x (%u.%u)\n", info.hw_version, info.hw_version >> 16,
		       (info.hw_version >> 8) & 0xff);
		printf("features       %s%s%s\n",
		       info.features & SAMPAN_FEATURE_BLOCK_SCALED ? "block_scaled (Q8_0) " : "",
		       info.features & SAMPAN_FEATURE_MATVEC ? "matvec" : "",
		       info.features ? "" : "none (int8 only)");
		if (info.mv_rows)
			printf("mv_rows        %u rows on the matrix-vector engine\n",
			       info.mv_rows);
	}
	sampan_close(dev);
	return CLI_EXIT_OK;
}
