# rtl/synth/timing.mk - make timing (included by the Makefile after the board
# files: it uses the iCEBreaker build's variables).

# make timing: a static timing estimate (rtl/synth/timing.sh; Yosys `sta`
# on the mapped, flattened netlist against our per-cell delay tables
# rtl/synth/timing_<family>.tab): the critical path and the Fmax it
# implies for sampan_core on UltraScale+ (TIMING_XCUP sizes, default the
# 16x16 full core), for the Arty board top on Artix-7, and for the
# iCEBreaker build on iCE40 next to nextpnr-ice40's routed figure for the
# same netlist (the model's error against a real router). Reports under
# build/timing/; see rtl/README.md, "Timing". Slow: each Xilinx synthesis
# of the full core takes minutes.
TIMING_DIR  := build/timing
TIMING_XCUP ?= 16x16
TIMING_RPTS := $(foreach s,$(TIMING_XCUP),$(TIMING_DIR)/xcup_$(s)/report.txt) \
               $(TIMING_DIR)/arty_xc7/report.txt $(TIMING_DIR)/ice40/report.txt
TIMING_DEPS := rtl/synth/timing.sh rtl/synth/timing_models.awk

.PHONY: timing
timing: $(TIMING_RPTS)
	$(Q)rtl/synth/timing_calib.sh $(TIMING_DIR)/ice40/report.txt $(ICE_DIR)/nextpnr.log

$(TIMING_DIR)/xcup_%/report.txt: $(RTL_SRCS) $(TIMING_DEPS) rtl/synth/timing_xcup.tab | $(DEPS_STAMP)
	$(call msg,TIMING,sampan_core $* UltraScale+ (synth_xilinx, minutes))
	$(Q)s=$*; YOSYS='$(YOSYS)' rtl/synth/timing.sh xcup sampan_core "ROWS=$${s%x*} COLS=$${s#*x}" \
	  $(@D) $(RTL_SRCS) > /dev/null

$(TIMING_DIR)/arty_xc7/report.txt: $(ARTY_SRCS) $(TIMING_DEPS) rtl/synth/timing_xc7.tab | $(DEPS_STAMP)
	$(call msg,TIMING,sampan_arty Artix-7 (synth_xilinx, minutes))
	$(Q)YOSYS='$(YOSYS)' rtl/synth/timing.sh xc7 sampan_arty '$(ARTY_GENERICS)' $(@D) $(ARTY_SRCS) > /dev/null

$(TIMING_DIR)/ice40/report.txt: $(ICE_ASC) $(TIMING_DEPS) rtl/synth/timing_ice40.tab rtl/synth/timing_ice40.ys
	$(call msg,TIMING,$(ICE_TOP) iCE40 (the bitstream build's netlist))
	$(Q)YOSYS='$(YOSYS)' rtl/synth/timing.sh ice40 $(ICE_TOP) '' $(@D) $(ICE_JSON) > /dev/null

# Part of `make lint`: timing.sh on a flip-flop -> LUT2 -> flip-flop design
# against the answer computed by hand from each delay table, and a table
# missing a cell type refused (a few seconds).
.PHONY: timing-selftest
lint: timing-selftest
timing-selftest: | $(DEPS_STAMP)
	$(call msg,TIMING,selftest)
	$(Q)YOSYS='$(YOSYS)' rtl/synth/timing_selftest.sh $(TIMING_DIR)/selftest
