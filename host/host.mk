# host/host.mk: the `sampan` CLI, $(BUILD)/sampan, linked statically
# against libsampan; and `make bench`.

HOST_SRCS := host/main.c host/cli.c host/cmd_devices.c host/cmd_gemm.c \
             host/cmd_bench.c host/cmd_selftest.c host/gemm_data.c host/npy.c host/ref.c
HOST_OBJS := $(HOST_SRCS:host/%.c=$(BUILD)/host/%.o)
SAMPAN_CLI := $(BUILD)/sampan

.PHONY: cli bench
cli: $(SAMPAN_CLI)

$(SAMPAN_CLI): $(HOST_OBJS) $(LIBSAMPAN_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(HOST_OBJS) $(LIBSAMPAN_A) $(LIBSAMPAN_LIBS) -lm

$(BUILD)/host/%.o: host/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

-include $(HOST_OBJS:.o=.d)

# Utilization per shape on the simulated RTL: the table on the terminal,
# the figures in build/bench.json (written whole or not at all); then the
# simulator's own speed if the sim fragment measures it.
bench: cli sim
	$(Q)$(SAMPAN_CLI) bench -d sim --json > build/bench.json.tmp
	$(Q)mv build/bench.json.tmp build/bench.json
	@echo "bench: figures in build/bench.json"
	$(Q)if $(MAKE) -n simspeed >/dev/null 2>&1; then $(MAKE) --no-print-directory simspeed; fi
