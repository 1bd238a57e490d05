# rtl/stream/stream.mk - lint of the stream shell (USB path), included by
# rtl/rtl.mk: `make rtl-stream-lint`, part of `make lint`.
#
# Verilator -Wall on the shell (with the core, at the default and a small
# array on a 128-bit bus) and on each bridge as its own top; an Icarus
# compile of the shell.

RTL_STREAM_SRCS := $(wildcard $(RTL_DIR)/stream/sampan_stream_*.v)
RTL_STREAM_BRIDGES := sampan_uart_rx sampan_uart_tx sampan_ft245_sync
# Configurations of the shell linted: default, and the small-board shape.
RTL_STREAM_LINT_CFGS := "-GROWS=16 -GCOLS=16" \
                        "-GROWS=4 -GCOLS=4 -GAXI_DATA_WIDTH=128 -GMEM_BYTES=65536 -GMAX_DATA=1024"

.PHONY: rtl-stream-lint
lint: rtl-stream-lint

rtl-stream-lint: | $(DEPS_STAMP)
	$(Q)set -e; for cfg in $(RTL_STREAM_LINT_CFGS); do \
	  printf '  %-8s %s\n' LINT "sampan_stream_top $$cfg"; \
	  $(VERILATOR) --lint-only -Wall --top-module sampan_stream_top $$cfg $(RTL_STREAM_SRCS) $(RTL_SRCS); \
	done
	$(Q)set -e; for m in $(RTL_STREAM_BRIDGES); do \
	  printf '  %-8s %s\n' LINT "$$m"; \
	  $(VERILATOR) --lint-only -Wall --top-module $$m $(RTL_DIR)/stream/$$m.v $(RTL_DIR)/sampan_fifo.v; \
	done
	$(call msg,IVERILOG,sampan_stream_top)
	$(Q)mkdir -p $(BUILD)/rtl && $(IVERILOG) -g2012 -Wall -Wno-timescale -s sampan_stream_top \
	  -o $(BUILD)/rtl/sampan_stream_top.vvp $(RTL_STREAM_SRCS) $(RTL_SRCS)
	$(Q)for m in $(RTL_STREAM_BRIDGES); do \
	  $(IVERILOG) -g2012 -Wall -Wno-timescale -s $$m -o $(BUILD)/rtl/$$m.vvp \
	    $(RTL_DIR)/stream/$$m.v $(RTL_DIR)/sampan_fifo.v || exit 1; \
	done
