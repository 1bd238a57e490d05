# rtl/stream/stream.mk - lint of the stream shell (USB path), included by
# rtl/rtl.mk: `make rtl-stream-lint`, part of `make lint`.
#
# Verilator -Wall on the shell (with the core, at the default and a small
# array on a 128-bit bus) and on each bridge as its own top (the FT60x
# bridge at both bus widths); an Icarus compile of the shell.
#
# `make usb-ft601-check` (also run by `make usb-bridge-check` and by the
# test_ft601 suite): sim/usb/tb_ft601.v under Icarus, a behavioural FT600
# and FT601 chip talking to the whole stream shell through
# sampan_ft601_fifo.

RTL_STREAM_SRCS := $(wildcard $(RTL_DIR)/stream/sampan_stream_*.v)
RTL_STREAM_BRIDGES := sampan_uart_rx sampan_uart_tx sampan_ft245_sync sampan_ft601_fifo
# Modules the bridges instantiate.
RTL_STREAM_BRIDGE_LIBS := $(RTL_DIR)/sampan_fifo.v $(RTL_DIR)/stream/sampan_async_fifo.v
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
	  $(VERILATOR) --lint-only -Wall --top-module $$m $(RTL_DIR)/stream/$$m.v $(RTL_STREAM_BRIDGE_LIBS); \
	done
	$(Q)printf '  %-8s %s\n' LINT "sampan_ft601_fifo -GDATA_WIDTH=16"
	$(Q)$(VERILATOR) --lint-only -Wall --top-module sampan_ft601_fifo -GDATA_WIDTH=16 \
	  $(RTL_DIR)/stream/sampan_ft601_fifo.v $(RTL_STREAM_BRIDGE_LIBS)
	$(call msg,IVERILOG,sampan_stream_top)
	$(Q)mkdir -p $(BUILD)/rtl && $(IVERILOG) -g2012 -Wall -Wno-timescale -s sampan_stream_top \
	  -o $(BUILD)/rtl/sampan_stream_top.vvp $(RTL_STREAM_SRCS) $(RTL_SRCS)
	$(Q)for m in $(RTL_STREAM_BRIDGES); do \
	  $(IVERILOG) -g2012 -Wall -Wno-timescale -s $$m -o $(BUILD)/rtl/$$m.vvp \
	    $(RTL_DIR)/stream/$$m.v $(RTL_STREAM_BRIDGE_LIBS) || exit 1; \
	done

# ------------------------------------------------------- usb-ft601-check
# The FT600/FT601 bridge in front of the stream shell, under Icarus.
# Prints PASS or the mismatch; a few seconds.
FT601_TB := build/sim/icarus/tb_ft601.vvp
FT601_TB_SRCS := sim/usb/tb_ft601.v $(RTL_DIR)/stream/sampan_ft601_fifo.v \
                 $(RTL_DIR)/stream/sampan_async_fifo.v $(RTL_STREAM_SRCS) $(RTL_SRCS)

$(FT601_TB): $(FT601_TB_SRCS) | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s tb_ft601 -o $@ $(FT601_TB_SRCS)

.PHONY: usb-ft601-check usb-bridge-check
usb-bridge-check: usb-ft601-check
usb-ft601-check: $(FT601_TB)
	$(Q)$(VVP) -n $(FT601_TB) > $(FT601_TB).log 2>&1; rc=$$?; cat $(FT601_TB).log; \
	  [ $$rc -eq 0 ] && grep -q '^PASS' $(FT601_TB).log
