/*
 * main.c - the `sampan` command: dispatch to the subcommands.
 */
#include <string.h>

#include "cli.h"

static const char main_help[] =
    "usage: sampan COMMAND [options]\n"
    "\n"
    "Runs int8 GEMMs on a sampan matrix engine: the RTL simulated by\n"
    "Verilator (device 'sim', the default), the functional model ('cpu'),\n"
    "or a board.\n"
    "\n"
    "Commands:\n"
    "  devices   list the devices that can be opened\n"
    "  info      array size, buffers, bus and clock of a device\n"
    "  gemm      one GEMM, from .npy files or random; --check against a reference\n"
    "  bench     GEMM shapes -> cycles, utilization and its bound\n"
    "  selftest  device conformance suite (JUnit/TAP for hardware-in-the-loop CI)\n"
    "  run       one inference of an ONNX model (float or int8)\n"
    "  quantize  float ONNX model -> int8 QDQ model, calibrated on sample inputs\n"
    "  eval      accuracy and speed of a model on a labelled data set\n"
    "  generate  text from a GGUF language model (llama, qwen2), streamed\n"
    "  chat      interactive chat with a GGUF language model\n"
    "  perplexity  llama.cpp's perplexity of a GGUF model on a text file\n"
    "\n"
    "'sampan COMMAND --help' describes each one. Every command that prints\n"
    "figures takes --json and then prints one JSON object on stdout;\n"
    "messages go to stderr.\n"
    "\n"
    "Devices ('sampan devices' lists those of this build):\n"
    "  sim[:trace=FILE.fst,latency=CYCLES,bw=BYTES,mem=MiB]  the RTL in Verilator,\n"
    "      through the AXI shell (the PCIe path)\n"
    "  sim-usb[:link=MB_PER_S,faults=drop+dup+corrupt+stall+reset,every=BYTES,seed=N]\n"
    "      the RTL through the stream shell and the USB framing code\n"
    "  cpu[:mem=MiB,rows=N,cols=N,...]  the functional model\n"
    "  xrt[:INDEX|BDF][,xclbin=PATH,kernel=NAME,mem=MiB]  an Alveo card through XRT\n"
    "  usb[:VID:PID[:SERIAL]]  a board on USB (FT2232H, FT232H, FT600, FT601 bridges)\n"
    "Environment: SAMPAN_SIM_LIB overrides the simulator library path;\n"
    "  SAMPAN_XCLBIN is the xclbin the xrt device programs by default.\n"
    "Exit status: 0 success, 1 failure (or a --check mismatch), 2 usage error.\n";

static const struct {
	const char *name;
	cli_command_fn fn;
} commands[] = {
    {"devices", cmd_devices},
    {"info", cmd_info},
    {"gemm", cmd_gemm},
    {"bench", cmd_bench},
    {"selftest", cmd_selftest},
    {"run", cmd_run},
    {"quantize", cmd_quantize},
    {"eval", cmd_eval},
    {"generate", cmd_generate},
    {"chat", cmd_chat},
    {"perplexity", cmd_perplexity},
};

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		fputs(main_help, stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(main_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("sampan %d.%d.%d\n", SAMPAN_VERSION_MAJOR, SAMPAN_VERSION_MINOR,
		       SAMPAN_VERSION_PATCH);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", cmd);
	return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
