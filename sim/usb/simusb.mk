# sim/usb/simusb.mk - the simulated USB board (see sim/usb/sampan_simusb.h),
# included by sim/sim.mk.
#
#   build/libsampan_simusb.so   rtl/stream/sampan_stream_top at ROWS x COLS
#                               behind a rate-limited byte link
#
# The Verilated model lives in build/sim/<ROWS>x<COLS>/usb/ and reuses the
# Verilator flags of the sim library (SIM_VFLAGS, SIM_VMAKE).

SIMUSB_LIB  := build/libsampan_simusb.so
SIMUSB_DIR  := $(SIM_TOP)/usb
SIMUSB_RTL  := $(wildcard rtl/stream/sampan_stream_*.v)
# On-chip card memory of the simulated board (MEM_BYTES), and the idle
# cycles after which the frame engine drops a partial frame (200 us at
# 100 MHz, well below the driver's sim-usb timeouts).
SIMUSB_MEM_BYTES     := 4194304
SIMUSB_FRAME_TIMEOUT := 20000
SIMUSB_GEN := -GROWS=$(ROWS) -GCOLS=$(COLS) -GCLOCK_MHZ=100 \
              -GMEM_BYTES=$(SIMUSB_MEM_BYTES) -GFRAME_TIMEOUT=$(SIMUSB_FRAME_TIMEOUT)

# Locked like the models of sim.mk (SIM_LOCK): two makes in one tree must
# not Verilate or compile into the same directory at once.
$(SIMUSB_DIR)/Vsampan_stream_top.mk: $(RTL_SRCS) $(SIMUSB_RTL) sim/usb/simusb.mk $(SIM_FLAGS_STAMP) | $(DEPS_STAMP)
	$(call msg,VERILATE,$(SIMUSB_DIR))
	$(Q)$(call SIM_LOCK,$(SIMUSB_DIR)) if [ -f $@ ] && [ -z "$$(find $^ -newer $@)" ]; then exit 0; fi; \
	  rm -rf $(SIMUSB_DIR) && mkdir -p $(SIMUSB_DIR) && \
	  $(VERILATOR) $(SIM_VFLAGS) $(SIMUSB_GEN) --top-module sampan_stream_top \
	    --prefix Vsampan_stream_top --Mdir $(SIMUSB_DIR) $(SIMUSB_RTL) $(RTL_SRCS); \
	  $(call SIM_UNLOCK,$(SIMUSB_DIR))

$(SIMUSB_DIR)/Vsampan_stream_top__ALL.a $(addprefix $(SIMUSB_DIR)/,$(SIM_RT)) &: $(SIMUSB_DIR)/Vsampan_stream_top.mk
	$(call msg,CXX,$(SIMUSB_DIR)/Vsampan_stream_top__ALL.a)
	$(Q)$(call SIM_LOCK,$(SIMUSB_DIR)) $(MAKE) -C $(SIMUSB_DIR) -f Vsampan_stream_top.mk \
	  Vsampan_stream_top__ALL.a $(SIM_RT) $(SIM_VMAKE) $(SIM_SUBJOBS) $(SIM_QUIET); \
	  $(call SIM_UNLOCK,$(SIMUSB_DIR))

$(SIMUSB_DIR)/ssim_usb.o: sim/usb/ssim_usb.cpp $(SIMUSB_DIR)/Vsampan_stream_top.mk
	$(call msg,CXX,$@)
	$(Q)$(call SIM_LOCK,$@) $(CXX) $(SIM_CXXFLAGS) -Isim/usb -isystem $(SIMUSB_DIR) \
	  -DSSIMUSB_MEM_BYTES=$(SIMUSB_MEM_BYTES)ull -c -o $@ $<; $(call SIM_UNLOCK,$@)

-include $(SIMUSB_DIR)/ssim_usb.d

$(SIMUSB_LIB): $(SIMUSB_DIR)/ssim_usb.o $(SIM_DIR)/ssim_util.o $(SIMUSB_DIR)/Vsampan_stream_top__ALL.a \
               $(addprefix $(SIMUSB_DIR)/,$(SIM_RT)) sim/usb/sampan_simusb.map $(SIM_STAMP)
	$(call msg,LD,$@)
	$(Q)$(call SIM_LOCK,$(SIM_DIR)/$(@F)) $(CXX) -shared -Wl,--no-undefined \
	  -Wl,--version-script=sim/usb/sampan_simusb.map -o $@ $(filter %.o %.a,$^) $(SIM_LDLIBS); \
	  $(call SIM_UNLOCK,$(SIM_DIR)/$(@F))

sim: $(SIMUSB_LIB)

# ---------------------------------------------------------------- usbbench
# Throughput through the USB framing on sim-usb against the raw link rate
# (512 KiB written and read back at 40 and 100 MB/s); build/usbbench.json.
SIMUSB_BENCH := $(BUILD)/sim/usbbench

$(SIMUSB_BENCH): sim/usb/usbbench.c $(LIBSAMPAN_A) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -Idriver/src -o $@ $< $(LIBSAMPAN_A) \
	  $(ALL_LDFLAGS) $(LIBSAMPAN_LIBS) -lm

.PHONY: usbbench
usbbench: $(SIMUSB_BENCH) $(SIMUSB_LIB)
	$(Q)SAMPAN_SIMUSB_LIB=$(abspath $(SIMUSB_LIB)) $(SIMUSB_BENCH) --json build/usbbench.json

# ------------------------------------------------------- usb-bridge-check
# The UART and FT245 bridges under Icarus (sim/usb/tb_bridges.v): a UART
# loopback and both directions of the FT245 sync FIFO against a behavioural
# FT232H with random RXF#/TXE# throttling. Prints PASS or the mismatch.
SIMUSB_TB := $(SIM_DIR)/icarus/tb_bridges.vvp
SIMUSB_TB_SRCS := sim/usb/tb_bridges.v rtl/stream/sampan_uart_rx.v rtl/stream/sampan_uart_tx.v \
                  rtl/stream/sampan_ft245_sync.v rtl/sampan_fifo.v

$(SIMUSB_TB): $(SIMUSB_TB_SRCS) | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s tb_bridges -o $@ $(SIMUSB_TB_SRCS)

.PHONY: usb-bridge-check
usb-bridge-check: $(SIMUSB_TB)
	$(Q)$(VVP) -n $(SIMUSB_TB) | tee /dev/stderr | grep -q '^PASS'
