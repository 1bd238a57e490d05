# rtl/rtl.mk - the synthesizable Verilog of sampan: lint and synthesis.
#
#   make lint     verilator --lint-only -Wall on sampan_axi_top at 16x16, 4x4,
#                 8x16 (and 8x8, 16x8), plus an Icarus (-g2012) compile; the
#                 same for the lite core (sampan_axi_top LITE=1) at 4x2, 4x4,
#                 16x16
#   make synth    Yosys synth_xilinx (UltraScale+) of sampan_core at 4x4 and
#                 8x8 and synth_ice40 at 4x4; a resource table per
#                 configuration, logs and stat reports under build/synth/.
#                 16x16 takes about 4.5 CPU minutes in Yosys, over the budget
#                 of a default run: make synth RTL_SYNTH_XILINX='4x4 8x8 16x16'
#
# RTL_SRCS are the sources of the AXI top (sampan_axi_top); sim/sim.mk
# Verilates them.

RTL_DIR  := rtl
RTL_TOP  := sampan_axi_top
RTL_SRCS := $(addprefix $(RTL_DIR)/,\
              sampan_axi_top.v sampan_axil_regs.v sampan_core.v sampan_seq.v \
              sampan_fetch.v sampan_load.v sampan_exec.v sampan_store.v \
              sampan_counters.v sampan_array.v sampan_pe.v sampan_requant.v \
              sampan_ram.v sampan_fifo.v sampan_burst.v sampan_delay.v \
              sampan_requant_seq.v sampan_lite_core.v sampan_cmd_check.v \
              sampan_lite_mac.v sampan_fh2f.v sampan_fscale.v sampan_fmul.v \
              sampan_fadd.v)

VERILATOR ?= verilator
IVERILOG  ?= iverilog
YOSYS     ?= yosys

# ------------------------------------------------------------------ lint

RTL_LINT_FLAGS := --lint-only              # elaborate and check, build no model
RTL_LINT_FLAGS += -Wall                    # every warning class, style ones included
RTL_LINT_FLAGS += --top-module $(RTL_TOP)  # the shell the simulator and kernel use
# Array sizes linted: the default, the smallest and a non-square one, plus
# the other sizes the design promises (ARCHITECTURE.md).
RTL_LINT_SIZES := 16x16 4x4 8x16 8x8 16x8

RTL_IVERILOG_FLAGS := -g2012               # Verilog-2005 plus the SV the three tools share
RTL_IVERILOG_FLAGS += -Wall                # Icarus warnings too
RTL_IVERILOG_FLAGS += -Wno-timescale       # no `timescale: the RTL has no delays
RTL_IVERILOG_FLAGS += -s $(RTL_TOP)

.PHONY: lint rtl-lint
lint: rtl-lint

rtl-lint: | $(DEPS_STAMP)
	$(Q)set -e; for size in $(RTL_LINT_SIZES); do \
	  r=$${size%x*}; c=$${size#*x}; \
	  printf '  %-8s %s\n' LINT "$(RTL_TOP) $$size"; \
	  $(VERILATOR) $(RTL_LINT_FLAGS) -GROWS=$$r -GCOLS=$$c $(RTL_SRCS); \
	done
	$(call msg,IVERILOG,$(RTL_TOP))
	$(Q)mkdir -p $(BUILD)/rtl && $(IVERILOG) $(RTL_IVERILOG_FLAGS) -o $(BUILD)/rtl/$(RTL_TOP).vvp $(RTL_SRCS)

# The lite core (sampan_axi_top with LITE=1: registers + sampan_lite_core),
# the small part's core: the iCEBreaker shape on the narrowest bus (its
# 32-bit addresses and counters), a square one and the default array on the
# default bus.
RTL_LITE_LINT := ROWS=4,COLS=2,K_DEPTH=512,ACC_SLOTS=2,P_ENTRIES=2,AXI_DATA_WIDTH=128,AXI_ADDR_WIDTH=32,COUNTER_WIDTH=32 \
                 ROWS=4,COLS=4,K_DEPTH=512,ACC_SLOTS=2,P_ENTRIES=2,AXI_DATA_WIDTH=128,AXI_ADDR_WIDTH=32,COUNTER_WIDTH=32 \
                 ROWS=16,COLS=16,AXI_DATA_WIDTH=512,K_DEPTH=1024,ACC_SLOTS=4,P_ENTRIES=64,COUNTER_WIDTH=64

.PHONY: rtl-lite-lint
lint: rtl-lite-lint

rtl-lite-lint: | $(DEPS_STAMP)
	$(Q)set -e; for cfg in $(RTL_LITE_LINT); do \
	  printf '  %-8s %s\n' LINT "$(RTL_TOP) LITE=1,$$cfg"; \
	  $(VERILATOR) $(RTL_LINT_FLAGS) -GLITE=1 \
	    $$(echo $$cfg | tr ',' '\n' | sed 's/^/-G/') $(RTL_SRCS); \
	done
	$(call msg,IVERILOG,$(RTL_TOP) LITE=1)
	$(Q)mkdir -p $(BUILD)/rtl && $(IVERILOG) $(RTL_IVERILOG_FLAGS) -P$(RTL_TOP).LITE=1 \
	  -P$(RTL_TOP).ROWS=4 -P$(RTL_TOP).COLS=2 -P$(RTL_TOP).K_DEPTH=512 -P$(RTL_TOP).ACC_SLOTS=2 \
	  -P$(RTL_TOP).P_ENTRIES=2 -P$(RTL_TOP).AXI_DATA_WIDTH=128 \
	  -o $(BUILD)/rtl/$(RTL_TOP)_lite.vvp $(RTL_SRCS)

# ----------------------------------------------------------------- synth

RTL_SYNTH_DIR := build/synth
# Core configurations (ROWSxCOLS) per family.
RTL_SYNTH_XILINX ?= 4x4 8x8
RTL_SYNTH_ICE40  ?= 4x4
RTL_SYNTH_LOGS := $(foreach s,$(RTL_SYNTH_XILINX),$(RTL_SYNTH_DIR)/xilinx_$(s).log) \
                  $(foreach s,$(RTL_SYNTH_ICE40),$(RTL_SYNTH_DIR)/ice40_$(s).log)

.PHONY: synth rtl-synth
synth: rtl-synth

rtl-synth: $(RTL_SYNTH_LOGS)
	$(Q)$(RTL_DIR)/synth/table.sh $(RTL_SYNTH_LOGS)

# $(RTL_SYNTH_DIR)/<family>_<R>x<C>.log: one Yosys run, the stat report at
# the end of the log (and in .stat).
$(RTL_SYNTH_DIR)/%.log: $(RTL_SRCS) $(RTL_DIR)/synth/synth.sh | $(DEPS_STAMP)
	$(call msg,YOSYS,$@)
	$(Q)mkdir -p $(@D) && YOSYS='$(YOSYS)' $(RTL_DIR)/synth/synth.sh $* $@ $(RTL_SRCS)

# The stream shell (USB path): rtl-stream-lint, part of `make lint`.
include $(RTL_DIR)/stream/stream.mk
