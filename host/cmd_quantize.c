/*
 * cmd_quantize.c - `sampan quantize` (being written).
 */
#include "cli.h"

int cmd_quantize(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("quantize: not implemented yet");
	return CLI_EXIT_FAIL;
}
