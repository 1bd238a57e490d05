# rtl/boards/arty/board.mk - the Digilent Arty A7 (xc7a35t / xc7a100t):
# sampan_arty (stream shell + UART bridge) with constraints/arty_a7.xdc.
#
#   make bitstream BOARD=arty   Vivado batch (rtl/boards/arty/vivado/build.tcl)
#                               when `vivado` is on PATH; else says so, exit 2
#   make program-arty           loads build/arty/sampan_arty.bit over JTAG
#                               (Vivado hardware manager, or openFPGALoader)
#   make estimate BOARD=arty    Yosys synth_xilinx -family xc7 of the whole
#   (or make estimate-arty)     board top: LUT/FF/DSP/BRAM against the
#                               xc7a35t and xc7a100t; runs here (~10 min)
#   make arty-lint              Verilator -Wall, Icarus, Yosys elaboration
#                               (MMCM variant too), Tcl check; part of lint
#   make arty-sim               Icarus: frames through the whole top at the
#                               host's exact 3 Mbaud (tb_arty.v); part of lint
#   make arty-selftest          `sampan selftest` on sim-usb built with the
#                               board's shell parameters (no UART): the
#                               conformance suite against this configuration
#
# Knobs: ARTY_BOARD (35t | 100t), ARTY_CLOCK_MHZ (100 = the oscillator;
# other whole MHz go through an MMCM, Vivado only), ARTY_GENERICS
# (NAME=VALUE parameters of sampan_arty, for Vivado and the estimate).

ARTY_DIR   := rtl/boards/arty
ARTY_OUT   := build/arty
ARTY_TOP   := sampan_arty
ARTY_XDC   := constraints/arty_a7.xdc
ARTY_SRCS  := $(ARTY_DIR)/sampan_arty.v \
              $(addprefix $(RTL_DIR)/stream/,sampan_stream_top.v sampan_stream_engine.v \
                sampan_stream_mem.v sampan_uart_rx.v sampan_uart_tx.v) \
              $(RTL_SRCS)
ARTY_BOARD     ?= 35t
ARTY_CLOCK_MHZ ?= 100
ARTY_GENERICS  ?=
VIVADO         ?= vivado
OPENFPGALOADER ?= openFPGALoader

ARTY_VIVADO_FLAGS := -mode batch           # no GUI
ARTY_VIVADO_FLAGS += -nojournal            # no vivado.jou in the work tree
ARTY_VIVADO_FLAGS += -notrace              # the log without every Tcl line
ARTY_VIVADO_FLAGS += -log $(ARTY_OUT)/vivado.log

.PHONY: bitstream-arty flash-arty program-arty estimate estimate-arty arty-lint arty-sim arty-selftest

.PHONY: arty-board-check
arty-board-check:
	@case '$(ARTY_BOARD)' in 35t|100t) ;; *) \
	  echo "arty: ARTY_BOARD must be 35t (xc7a35ticsg324-1L) or 100t (xc7a100tcsg324-1), not '$(ARTY_BOARD)'" >&2; \
	  exit 2;; esac

bitstream-arty: $(ARTY_SRCS) $(ARTY_XDC) $(ARTY_DIR)/vivado/build.tcl | arty-board-check
	@command -v $(VIVADO) >/dev/null || { \
	  echo "bitstream-arty: '$(VIVADO)' not found: the Arty bitstream needs Vivado 2020.2+ on PATH" >&2; \
	  echo "  (source /tools/Xilinx/Vivado/<ver>/settings64.sh). Without it, 'make estimate BOARD=arty'" >&2; \
	  echo "  gives a Yosys resource estimate of the same top for the xc7a35t/xc7a100t." >&2; \
	  exit 2; }
	$(call msg,VIVADO,$(ARTY_OUT)/sampan_arty.bit ($(ARTY_BOARD), $(ARTY_CLOCK_MHZ) MHz))
	$(Q)mkdir -p $(ARTY_OUT) && rm -f $(ARTY_OUT)/sampan_arty.bit
	$(Q)$(VIVADO) $(ARTY_VIVADO_FLAGS) -source $(ARTY_DIR)/vivado/build.tcl -tclargs \
	  -board $(ARTY_BOARD) -clock $(ARTY_CLOCK_MHZ) -out $(abspath $(ARTY_OUT)) \
	  -xdc $(abspath $(ARTY_XDC)) $(foreach g,$(ARTY_GENERICS),-generic $(g)) \
	  $(abspath $(ARTY_SRCS)) > $(ARTY_OUT)/build.out 2>&1 || \
	  { tail -n 30 $(ARTY_OUT)/build.out; echo "bitstream-arty: failed, log in $(ARTY_OUT)/vivado.log" >&2; exit 1; }
	@test -f $(ARTY_OUT)/sampan_arty.bit || { tail -n 30 $(ARTY_OUT)/build.out; \
	  echo "bitstream-arty: Vivado wrote no bitstream, log in $(ARTY_OUT)/vivado.log" >&2; exit 1; }
	@grep '^sampan:' $(ARTY_OUT)/build.out || true
	@sed -n '/^| Slice LUTs/p;/^| Slice Registers/p;/^| Block RAM Tile/p;/^| DSPs/p' \
	  $(ARTY_OUT)/reports/utilization.rpt

# `make flash BOARD=arty` is the same as program-arty.
flash-arty: program-arty

program-arty: | arty-board-check
	@test -f $(ARTY_OUT)/sampan_arty.bit || { \
	  echo "program-arty: no $(ARTY_OUT)/sampan_arty.bit: make bitstream BOARD=arty first" >&2; exit 2; }
	$(Q)if command -v $(VIVADO) >/dev/null; then \
	  $(VIVADO) -mode batch -nojournal -nolog -notrace -source $(ARTY_DIR)/vivado/program.tcl \
	    -tclargs $(abspath $(ARTY_OUT)/sampan_arty.bit); \
	elif command -v $(OPENFPGALOADER) >/dev/null; then \
	  $(OPENFPGALOADER) -b $(if $(filter 100t,$(ARTY_BOARD)),arty_a7_100t,arty_a7_35t) \
	    $(ARTY_OUT)/sampan_arty.bit; \
	else \
	  echo "program-arty: neither '$(VIVADO)' nor '$(OPENFPGALOADER)' found; install one of them" >&2; exit 2; \
	fi

# ------------------------------------------------------------- estimate

# Boards with a Yosys estimate-<board> target (a board.mk adds itself).
ESTIMATE_BOARDS += arty

estimate:
	$(Q)case ' $(ESTIMATE_BOARDS) ' in *' $(BOARD) '*) [ -n '$(BOARD)' ] ;; *) false;; esac || { \
	  echo "estimate: say which board: make estimate BOARD=<$(subst $(eval) ,|,$(strip $(ESTIMATE_BOARDS)))>" >&2; exit 2; }
	$(Q)$(MAKE) --no-print-directory estimate-$(BOARD)

# One log per parameter set: build/arty/estimate[_NAME-VALUE...].log.
arty_empty :=
arty_space := $(arty_empty) $(arty_empty)
ARTY_EST_LOG := $(ARTY_OUT)/estimate$(if $(strip $(ARTY_GENERICS)),_$(subst =,-,$(subst $(arty_space),_,$(strip $(ARTY_GENERICS))))).log

estimate-arty: $(ARTY_EST_LOG)
	$(Q)$(ARTY_DIR)/estimate_table.sh $(ARTY_EST_LOG:.log=.stat)

$(ARTY_EST_LOG): $(ARTY_SRCS) $(ARTY_DIR)/estimate.sh | $(DEPS_STAMP)
	$(call msg,YOSYS,$@ (synth_xilinx -family xc7; a few minutes))
	$(Q)mkdir -p $(@D) && YOSYS='$(YOSYS)' $(ARTY_DIR)/estimate.sh $@ '$(ARTY_GENERICS)' $(ARTY_SRCS)

# ----------------------------------------------------------------- lint

# The defaults (A7-35T), the largest 128-bit array, the A7-100T suggestion.
ARTY_LINT_CFGS := "" "-GROWS=16 -GCOLS=4" "-GROWS=16 -GCOLS=8 -GAXI_DATA_WIDTH=256 -GMEM_BYTES=131072"

lint: arty-lint
arty-lint: | $(DEPS_STAMP)
	$(Q)set -e; for cfg in $(ARTY_LINT_CFGS); do \
	  printf '  %-8s %s\n' LINT "$(ARTY_TOP) $${cfg:-(defaults)}"; \
	  $(VERILATOR) --lint-only -Wall --top-module $(ARTY_TOP) $$cfg $(ARTY_SRCS); \
	done
	$(call msg,IVERILOG,$(ARTY_TOP))
	$(Q)mkdir -p $(ARTY_OUT) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s $(ARTY_TOP) \
	  -o $(ARTY_OUT)/$(ARTY_TOP).vvp $(ARTY_SRCS)
	$(call msg,YOSYS,$(ARTY_TOP) elaboration (with and without the MMCM))
	$(Q)for d in '' '-DSAMPAN_ARTY_MMCM'; do \
	  $(YOSYS) -q -l $(ARTY_OUT)/elaborate$$d.log -p "read_verilog -lib +/xilinx/cells_sim.v +/xilinx/cells_xtra.v; \
	    read_verilog -defer -sv $$d $(ARTY_SRCS); hierarchy -check -top $(ARTY_TOP); proc; check -assert" \
	    >/dev/null 2>&1 || { grep -m5 ERROR $(ARTY_OUT)/elaborate$$d.log >&2; \
	    echo "arty-lint: Yosys elaboration $$d failed, log in $(ARTY_OUT)/elaborate$$d.log" >&2; exit 1; }; \
	done
	$(Q)$(ARTY_DIR)/vivado/check_tcl.sh $(ARTY_DIR)/vivado

# ------------------------------------------------------------------ sim

lint: arty-sim
arty-sim: $(ARTY_OUT)/tb_arty.vvp
	$(call msg,VVP,$<)
	$(Q)vvp -n $< > $(ARTY_OUT)/tb_arty.out 2>&1; rc=$$?; \
	  grep -E '^(PASS|FAIL)' $(ARTY_OUT)/tb_arty.out | head -n 20; \
	  [ $$rc -eq 0 ] && grep -q '^PASS' $(ARTY_OUT)/tb_arty.out || \
	  { echo "arty-sim: failed, log in $(ARTY_OUT)/tb_arty.out" >&2; exit 1; }

$(ARTY_OUT)/tb_arty.vvp: $(ARTY_DIR)/tb_arty.v $(ARTY_SRCS) | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s tb_arty -o $@ $< $(ARTY_SRCS)

# ------------------------------------------------------------- selftest

# The shell and core with the board's defaults (keep in step with
# sampan_arty.v), Verilated as a second sim-usb model under
# build/arty/simusb; the suite then runs through the usb framing code
# against it (SAMPAN_SIMUSB_LIB).
ARTY_SIMUSB_LIB := $(ARTY_OUT)/libsampan_simusb.so
ARTY_SIMUSB_MEM := 65536
ARTY_SIMUSB_GEN := -GROWS=8 -GCOLS=4 -GAXI_DATA_WIDTH=128 -GCLOCK_MHZ=100 \
                   -GMEM_BYTES=$(ARTY_SIMUSB_MEM) -GMAX_DATA=4096 -GFRAME_TIMEOUT=20000

arty-selftest: $(BUILD)/sampan
	$(Q)$(MAKE) --no-print-directory $(ARTY_SIMUSB_LIB) SIMUSB_LIB=$(ARTY_SIMUSB_LIB) \
	  SIMUSB_DIR=$(ARTY_OUT)/simusb SIMUSB_MEM_BYTES=$(ARTY_SIMUSB_MEM) SIMUSB_GEN='$(ARTY_SIMUSB_GEN)'
	$(Q)SAMPAN_SIMUSB_LIB=$(abspath $(ARTY_SIMUSB_LIB)) $(BUILD)/sampan selftest -d sim-usb \
	  --tap $(ARTY_OUT)/selftest.tap --junit $(ARTY_OUT)/selftest.xml
