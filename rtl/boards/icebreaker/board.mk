# rtl/boards/icebreaker/board.mk - the iCEBreaker (iCE40UP5K-SG48) build,
# included by rtl/boards/boards.mk. See rtl/boards/icebreaker/README.md.
#
#   make bitstream BOARD=icebreaker   Yosys synth_ice40 -> nextpnr-ice40 ->
#                                     icepack: build/boards/icebreaker/sampan.bin;
#                                     prints utilization and Fmax against the
#                                     target, fails if the clock is not met
#   make flash BOARD=icebreaker       iceprog the bitstream to the board's flash
#   make sim-usb-icebreaker           the board's shell (same parameters) Verilated
#                                     as a sim-usb library
#   make check-icebreaker             selftest and checked GEMMs on that library,
#                                     plus the sequential requantizer against the
#                                     pipelined one (Icarus)

ICE_DIR  := build/boards/icebreaker
ICE_TOP  := sampan_icebreaker
ICE_PCF  := constraints/icebreaker.pcf
# Target clock (MHz): the board's 12 MHz oscillator, used directly (58%
# timing margin). ICE_FREQ=18 puts the PLL in (12 MHz -> 18 MHz); it closes
# with less margin and depends on the placer seed: ICE_FREQ=18 ICE_SEED=2
# (README.md, "Figures").
ICE_FREQ ?= 12
ICE_PLL  := $(if $(filter 12,$(ICE_FREQ)),0,1)
# Fixed placer seed: the same netlist gives the same bitstream.
ICE_SEED ?= 1

# The board configuration, NAME=VALUE: the parameters of the board top
# (synthesis) and of sampan_stream_top (the sim-usb-icebreaker model).
ICE_PARAMS := ROWS=4 COLS=2 K_DEPTH=512 ACC_SLOTS=2 P_ENTRIES=2 \
              AXI_DATA_WIDTH=128 AXI_ADDR_WIDTH=32 FIFO_DEPTH=2 \
              BANK_SHARED=1 ACC_COPIES=1 REQUANT_SERIAL=1 PARAM_LOGIC=4 COUNTER_WIDTH=32 \
              MEM_SPRAM=1 MEM_BYTES=131072 MAX_DATA=4096 CLOCK_MHZ=$(ICE_FREQ) LITE=1
ICE_MEM_BYTES := 131072

ICE_SRCS := rtl/boards/icebreaker/sampan_icebreaker.v \
            $(wildcard rtl/stream/sampan_stream_*.v) \
            rtl/stream/sampan_uart_rx.v rtl/stream/sampan_uart_tx.v $(RTL_SRCS)

ICE_JSON := $(ICE_DIR)/sampan.json
ICE_ASC  := $(ICE_DIR)/sampan.asc
ICE_BIN  := $(ICE_DIR)/sampan.bin
NEXTPNR_ICE40 ?= nextpnr-ice40
ICEPACK       ?= icepack
ICEPROG       ?= iceprog

# The clock and seed of the last build: changing ICE_FREQ or ICE_SEED
# rebuilds what depends on them (the file changes only when they do).
ICE_CFG     := $(ICE_DIR)/.config
ICE_CFG_NOW := freq=$(ICE_FREQ) seed=$(ICE_SEED)
.PHONY: ice-cfg-force
$(ICE_CFG): ice-cfg-force
	$(Q)mkdir -p $(@D) && { echo '$(ICE_CFG_NOW)' | cmp -s - $@ || echo '$(ICE_CFG_NOW)' > $@; }

ICE_STAMP := $(ICE_DIR)/.tools-ok
$(ICE_STAMP):
	$(call apt_ensure,bitstream,yosys nextpnr-ice40 fpga-icestorm)
	$(Q)mkdir -p $(@D) && touch $@

.PHONY: bitstream-icebreaker flash-icebreaker sim-usb-icebreaker check-icebreaker flash

bitstream-icebreaker: $(ICE_BIN)
	$(Q)rtl/boards/icebreaker/report.sh $(ICE_DIR) $(ICE_FREQ)

# Synthesis: -dsp maps the PE multipliers to SB_MAC16, -spram the card
# memory to SB_SPRAM256KA. Log and resource report in $(ICE_DIR).
$(ICE_JSON): $(ICE_SRCS) rtl/boards/icebreaker/board.mk $(ICE_CFG) | $(ICE_STAMP)
	$(call msg,YOSYS,$@)
	$(Q)mkdir -p $(@D) && $(YOSYS) -q -l $(ICE_DIR)/yosys.log -p "\
	  read_verilog -sv $(ICE_SRCS); \
	  chparam $(foreach p,$(ICE_PARAMS) PLL=$(ICE_PLL),-set $(subst =, ,$(p))) $(ICE_TOP); \
	  synth_ice40 -dsp -spram -top $(ICE_TOP) -json $@; \
	  tee -q -o $(ICE_DIR)/yosys.stat stat"

# Place and route against the target clock; nextpnr fails when it is not
# met. --report: utilization and achieved Fmax (read by report.sh).
$(ICE_ASC): $(ICE_JSON) $(ICE_PCF) $(ICE_CFG)
	$(call msg,NEXTPNR,$@)
	$(Q)$(NEXTPNR_ICE40) -q --up5k --package sg48 --pcf $(ICE_PCF) --json $(ICE_JSON) \
	  --freq $(ICE_FREQ) --seed $(ICE_SEED) --report $(ICE_DIR)/report.json \
	  -l $(ICE_DIR)/nextpnr.log --asc $@ 2>/dev/null || \
	  { rtl/boards/icebreaker/report.sh $(ICE_DIR) $(ICE_FREQ) failed; rm -f $@; exit 1; }

$(ICE_BIN): $(ICE_ASC)
	$(call msg,ICEPACK,$@)
	$(Q)$(ICEPACK) $< $@

# Writes the bitstream to the board's SPI flash (iceprog, FT2232H channel A).
# Not run by any other target.
flash-icebreaker: $(ICE_BIN)
	$(ICEPROG) $(ICE_BIN)


# ------------------------------------------------------------ simulation
# The board's shell with the board's parameters behind the sim-usb link
# model: `SAMPAN_SIMUSB_LIB=$(ICE_SIMLIB) sampan ... -d sim-usb`.
ICE_SIMDIR := $(ICE_DIR)/simusb
ICE_SIMLIB := $(ICE_DIR)/libsampan_simusb.so
ICE_VGEN   := $(foreach p,$(ICE_PARAMS),-G$(p))

$(ICE_SIMDIR)/Vsampan_stream_top.mk: $(ICE_SRCS) rtl/boards/icebreaker/board.mk $(ICE_CFG) $(SIM_FLAGS_STAMP) | $(DEPS_STAMP)
	$(call msg,VERILATE,$(ICE_SIMDIR))
	$(Q)rm -rf $(ICE_SIMDIR) && mkdir -p $(ICE_SIMDIR) && \
	  $(VERILATOR) $(SIM_VFLAGS) $(ICE_VGEN) --top-module sampan_stream_top \
	    --prefix Vsampan_stream_top --Mdir $(ICE_SIMDIR) $(wildcard rtl/stream/sampan_stream_*.v) $(RTL_SRCS)

$(ICE_SIMDIR)/Vsampan_stream_top__ALL.a $(addprefix $(ICE_SIMDIR)/,$(SIM_RT)) &: $(ICE_SIMDIR)/Vsampan_stream_top.mk
	$(call msg,CXX,$(ICE_SIMDIR)/Vsampan_stream_top__ALL.a)
	$(Q)$(MAKE) -C $(ICE_SIMDIR) -f Vsampan_stream_top.mk Vsampan_stream_top__ALL.a $(SIM_RT) \
	  $(SIM_VMAKE) $(SIM_SUBJOBS) $(SIM_QUIET)

$(ICE_SIMDIR)/ssim_usb.o: sim/usb/ssim_usb.cpp $(ICE_SIMDIR)/Vsampan_stream_top.mk
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(SIM_CXXFLAGS) -Isim/usb -isystem $(ICE_SIMDIR) \
	  -DSSIMUSB_MEM_BYTES=$(ICE_MEM_BYTES)ull -c -o $@ $<

$(ICE_SIMLIB): $(ICE_SIMDIR)/ssim_usb.o $(SIM_DIR)/ssim_util.o $(ICE_SIMDIR)/Vsampan_stream_top__ALL.a \
               $(addprefix $(ICE_SIMDIR)/,$(SIM_RT)) sim/usb/sampan_simusb.map
	$(call msg,LD,$@)
	$(Q)$(CXX) -shared -Wl,--no-undefined -Wl,--version-script=sim/usb/sampan_simusb.map \
	  -o $@ $(filter %.o %.a,$^) $(SIM_LDLIBS)

sim-usb-icebreaker: $(ICE_SIMLIB)

# The board configuration end to end through the real framing code: the
# conformance suite, random GEMMs checked bit-exact against the reference
# (raw and requantized; ragged; K over one bank), and a GEMM too large for
# the 128 KiB card memory, which must fail cleanly (exit 1). First the
# sequential requantizer lane against the pipelined one.
ICE_GEMMS := 4x2x2 7x33x5 16x512x8 37x300x53 64x1000x16 40x1537x7 128x64x96
ICE_TB    := $(ICE_DIR)/tb_requant_seq.vvp

$(ICE_TB): rtl/boards/icebreaker/tb_requant_seq.v rtl/sampan_requant.v rtl/sampan_requant_seq.v | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s tb_requant_seq -o $@ $^

# The lite core answers the ISA 1.1 commands with status 6 (Icarus).
ICE_TB_ISA11 := $(ICE_DIR)/tb_lite_isa11.vvp
$(ICE_TB_ISA11): rtl/boards/icebreaker/tb_lite_isa11.v $(RTL_SRCS) | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s tb_lite_isa11 -o $@ $^

check-icebreaker: $(ICE_SIMLIB) $(SAMPAN_CLI) $(ICE_TB) $(ICE_TB_ISA11)
	$(Q)$(VVP) -n $(ICE_TB) | tee $(ICE_DIR)/tb_requant_seq.log | grep -q '^PASS' || \
	  { cat $(ICE_DIR)/tb_requant_seq.log; exit 1; }
	@echo "  requant_seq: $$(tail -1 $(ICE_DIR)/tb_requant_seq.log)"
	$(Q)$(VVP) -n $(ICE_TB_ISA11) | tee $(ICE_DIR)/tb_lite_isa11.log | grep -q '^PASS' || \
	  { cat $(ICE_DIR)/tb_lite_isa11.log; exit 1; }
	@echo "  lite ISA 1.1: $$(tail -1 $(ICE_DIR)/tb_lite_isa11.log)"
	$(Q)export SAMPAN_SIMUSB_LIB=$(abspath $(ICE_SIMLIB)); set -e; \
	  $(SAMPAN_CLI) info -d sim-usb; \
	  $(SAMPAN_CLI) selftest -d sim-usb --tap $(ICE_DIR)/selftest.tap; \
	  for s in $(ICE_GEMMS); do \
	    m=$${s%%x*}; r=$${s#*x}; k=$${r%%x*}; n=$${r#*x}; \
	    for raw in '' --raw; do \
	      $(SAMPAN_CLI) gemm -d sim-usb -m $$m -k $$k -n $$n --seed $$m$$k $$raw --check --json; \
	    done; \
	  done; \
	  $(SAMPAN_CLI) gemm -d sim-usb -m 512 -k 512 -n 512 --check | grep '^check        ok' || \
	    { echo "check-icebreaker: 512^3 GEMM, split over the 128 KiB card, failed" >&2; exit 1; }; \
	  rc=0; $(SAMPAN_CLI) gemm -d sim-usb -m 4 -k 30000 -n 2 --check 2>$(ICE_DIR)/toolarge.err || rc=$$?; \
	  if [ $$rc -ne 1 ]; then echo "check-icebreaker: 4x30000x2 GEMM exited $$rc, want 1" >&2; exit 1; fi; \
	  echo "  too large even split, as expected: $$(cat $(ICE_DIR)/toolarge.err)"

# ------------------------------------------------------------------ lint
# Part of `make lint`: Verilator -Wall on the board top (the board
# configuration, the UART bridge and the shell) and an Icarus compile.
.PHONY: icebreaker-lint
lint: icebreaker-lint

icebreaker-lint: | $(DEPS_STAMP)
	$(call msg,LINT,$(ICE_TOP))
	$(Q)$(VERILATOR) --lint-only -Wall --top-module $(ICE_TOP) $(ICE_VGEN) $(ICE_SRCS)
	$(call msg,IVERILOG,$(ICE_TOP))
	$(Q)mkdir -p $(BUILD)/rtl && $(IVERILOG) -g2012 -Wall -Wno-timescale -s $(ICE_TOP) \
	  -o $(BUILD)/rtl/$(ICE_TOP).vvp $(ICE_SRCS)
