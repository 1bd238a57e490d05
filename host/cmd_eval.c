/*
 * cmd_eval.c - `sampan eval` (being written).
 */
#include "cli.h"

int cmd_eval(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("eval: not implemented yet");
	return CLI_EXIT_FAIL;
}
