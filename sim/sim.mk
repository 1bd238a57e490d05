# sim/sim.mk - the Verilator simulation library (see sim/sampan_sim.h).
#
#   make sim          build/libsampan_sim.so        RTL at ROWS x COLS, no tracing
#                     build/libsampan_sim_trace.so  the same with FST waveforms
#   make coverage     coverage build, GEMM workload, lcov/genhtml report
#   make simspeed     cycles/second under Verilator and Icarus (also JSON)
#   make sim-check    GEMMs with a bit-exact check through the library
#
# Each Verilated model has its own object directory (the full card keyed by
# array size: build/sim/16x16/top/...), built by Verilator's own makefile
# into an archive; the library links the archives, the Verilator runtime
# objects and sim/*.cpp. Only the ssim_* symbols are exported.

VERILATOR      ?= verilator
VERILATOR_ROOT ?= /usr/share/verilator
IVERILOG       ?= iverilog
VVP            ?= vvp

SIM_DIR   := build/sim
SIM_SIZE  := $(ROWS)x$(COLS)
SIM_TOP   := $(SIM_DIR)/$(SIM_SIZE)
SIM_UNITS := $(SIM_DIR)/units
SIM_STAMP := $(SIM_DIR)/size.stamp
SIM_FLAGS_STAMP := $(SIM_DIR)/flags.stamp

SIM_LIB       := build/libsampan_sim.so
SIM_LIB_TRACE := build/libsampan_sim_trace.so
# Named like the plain build so that SAMPAN_SIM_LIB can point the driver at it.
SIM_LIB_COV   := $(SIM_TOP)/cov/libsampan_sim.so
SIM_GEMM      := $(SIM_DIR)/ssim_gemm

# ------------------------------------------------------- Verilator flags

SIM_VFLAGS := --cc                        # C++ model, no main(): the library wraps it
SIM_VFLAGS += -O3                         # every Verilator optimization
SIM_VFLAGS += --x-assign fast             # X assignments take whatever value is fastest
SIM_VFLAGS += --x-initial fast            # so does uninitialized state (reset covers control)
SIM_VFLAGS += --threads 1                 # single-threaded model: one card per host thread
SIM_VFLAGS += -Wno-fatal                  # lint is `make lint`'s job; warnings never block the model
SIM_VFLAGS += -fno-dfg                    # 5.006's DFG pass rebuilds the array's wide res port as
                                          # a chain of concatenations each cycle: 5x slower with it
SIM_VFLAGS += -CFLAGS -fPIC               # the objects go into a shared library
SIM_VFLAGS += -CFLAGS -fvisibility=hidden # and export nothing but the ssim_* ABI

SIM_VFLAGS_TRACE := --trace-fst           # FST waveform support (dumps only when opened)
SIM_VFLAGS_COV   := --coverage            # line, toggle and user coverage counters

# Options of the make that Verilator's generated makefile runs under.
SIM_VMAKE := OPT_FAST=-O2                 # hot model code
SIM_VMAKE += OPT_GLOBAL=-O2               # the Verilator runtime
SIM_VMAKE += VM_PARALLEL_BUILDS=1         # one object per generated file: -j2 helps
SIM_VMAKE += CXX='$(CXX)'
# At most two jobs inside, unless the parent make shares its jobserver.
SIM_SUBJOBS = $(if $(findstring jobserver,$(MAKEFLAGS)),,-j2)
SIM_QUIET   = $(if $(filter 1,$(V)),,-s >/dev/null)

# Two makes running in one tree (make test beside make bench) would
# Verilate into the same directories: each step that writes build/sim/
# holds a lock on what it writes, $(call SIM_LOCK,path) ... $(call
# SIM_UNLOCK,path), and a model that another make has just Verilated is
# not Verilated again.
SIM_LOCK   = mkdir -p $(dir $(1)) && { flock 9 &&
SIM_UNLOCK = } 9>$(1).lock

SIM_CXXFLAGS := -std=gnu++17 -O2 -g -fPIC -fvisibility=hidden -fvisibility-inlines-hidden \
                -Wall -Wextra -Werror -MMD -MP -Isim \
                -isystem $(VERILATOR_ROOT)/include -isystem $(VERILATOR_ROOT)/include/vltstd
SIM_LDFLAGS  := -shared -Wl,--no-undefined -Wl,--version-script=sim/sampan_sim.map
SIM_LDLIBS   := -pthread -latomic

# ----------------------------------------------------------- the models

# $(call SIM_MODEL,dir,prefix,top module,verilator flags,runtime objects)
# Verilates one model into dir and builds dir/prefix__ALL.a (plus, for a
# card, the Verilator runtime objects, compiled with the model's defines).
define SIM_MODEL
$(1)/$(2).mk: $$(RTL_SRCS) $$(SIM_FLAGS_STAMP) | $$(DEPS_STAMP)
	$$(call msg,VERILATE,$(1))
	$$(Q)$$(call SIM_LOCK,$(1)) if [ -f $$@ ] && [ -z "$$$$(find $$^ -newer $$@)" ]; then exit 0; fi; \
	  rm -rf $(1) && mkdir -p $(1) && \
	  $$(VERILATOR) $$(SIM_VFLAGS) $(4) --top-module $(3) --prefix $(2) --Mdir $(1) $$(RTL_SRCS); \
	  $$(call SIM_UNLOCK,$(1))

$(1)/$(2)__ALL.a $(addprefix $(1)/,$(5)) &: $(1)/$(2).mk
	$$(call msg,CXX,$(1)/$(2)__ALL.a)
	$$(Q)$$(call SIM_LOCK,$(1)) $$(MAKE) -C $(1) -f $(2).mk $(2)__ALL.a $(5) $$(SIM_VMAKE) $$(SIM_SUBJOBS) \
	  $$(SIM_QUIET); $$(call SIM_UNLOCK,$(1))
endef

SIM_RT       := verilated.o verilated_threads.o
SIM_RT_TRACE := $(SIM_RT) verilated_fst_c.o
SIM_RT_COV   := $(SIM_RT) verilated_cov.o
SIM_TOPGEN   := -GROWS=$(ROWS) -GCOLS=$(COLS)

$(eval $(call SIM_MODEL,$(SIM_TOP)/top,Vsampan_axi_top,sampan_axi_top,$(SIM_TOPGEN),$(SIM_RT)))
$(eval $(call SIM_MODEL,$(SIM_TOP)/top_trace,Vsampan_axi_top,sampan_axi_top,$(SIM_TOPGEN) $(SIM_VFLAGS_TRACE),$(SIM_RT_TRACE)))
$(eval $(call SIM_MODEL,$(SIM_TOP)/top_cov,Vsampan_axi_top,sampan_axi_top,$(SIM_TOPGEN) $(SIM_VFLAGS_COV),$(SIM_RT_COV)))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/pe,Vsampan_pe,sampan_pe,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/requant,Vsampan_requant,sampan_requant,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/fh2f,Vsampan_fh2f,sampan_fh2f,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/fscale,Vsampan_fscale,sampan_fscale,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/fmul,Vsampan_fmul,sampan_fmul,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/fadd,Vsampan_fadd,sampan_fadd,,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/array_4x4,Vsampan_array_4x4,sampan_array,-GROWS=4 -GCOLS=4,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/array_8x16,Vsampan_array_8x16,sampan_array,-GROWS=8 -GCOLS=16,))
$(eval $(call SIM_MODEL,$(SIM_UNITS)/array_16x16,Vsampan_array_16x16,sampan_array,-GROWS=16 -GCOLS=16,))

SIM_UNIT_MODELS := pe/Vsampan_pe requant/Vsampan_requant array_4x4/Vsampan_array_4x4 \
                   fh2f/Vsampan_fh2f fscale/Vsampan_fscale fmul/Vsampan_fmul fadd/Vsampan_fadd \
                   array_8x16/Vsampan_array_8x16 array_16x16/Vsampan_array_16x16
SIM_UNIT_MKS    := $(addprefix $(SIM_UNITS)/,$(addsuffix .mk,$(SIM_UNIT_MODELS)))
SIM_UNIT_LIBS   := $(addprefix $(SIM_UNITS)/,$(addsuffix __ALL.a,$(SIM_UNIT_MODELS)))

# ------------------------------------------------------ the wrapper code

SIM_COMMON_OBJS := $(SIM_DIR)/ssim_mem.o $(SIM_DIR)/ssim_util.o $(SIM_DIR)/ssim_units.o

$(SIM_DIR)/ssim_mem.o $(SIM_DIR)/ssim_util.o: $(SIM_DIR)/%.o: sim/%.cpp | $(DEPS_STAMP)
	$(call msg,CXX,$@)
	$(Q)$(call SIM_LOCK,$@) $(CXX) $(SIM_CXXFLAGS) -c -o $@ $<; $(call SIM_UNLOCK,$@)

$(SIM_DIR)/ssim_units.o: sim/ssim_units.cpp $(SIM_UNIT_MKS)
	$(call msg,CXX,$@)
	$(Q)$(call SIM_LOCK,$@) $(CXX) $(SIM_CXXFLAGS) $(addprefix -isystem ,$(dir $(SIM_UNIT_MKS))) -c -o $@ $<; \
	  $(call SIM_UNLOCK,$@)

# $(call SIM_DEVICE_OBJ,variant dir,defines)
define SIM_DEVICE_OBJ
$(SIM_TOP)/$(1)/ssim_device.o: sim/ssim_device.cpp $(SIM_TOP)/$(1)/Vsampan_axi_top.mk
	$$(call msg,CXX,$$@)
	$$(Q)$$(call SIM_LOCK,$$@) $$(CXX) $$(SIM_CXXFLAGS) -isystem $(SIM_TOP)/$(1) $(2) -c -o $$@ $$<; \
	  $$(call SIM_UNLOCK,$$@)
endef
$(eval $(call SIM_DEVICE_OBJ,top,-DVM_TRACE=0 -DVM_COVERAGE=0))
$(eval $(call SIM_DEVICE_OBJ,top_trace,-DVM_TRACE=1 -DVM_TRACE_FST=1 -DVM_COVERAGE=0 -DSSIM_TRACE=1))
$(eval $(call SIM_DEVICE_OBJ,top_cov,-DVM_TRACE=0 -DVM_COVERAGE=1 -DSSIM_COVERAGE=1))

-include $(SIM_DIR)/*.d $(SIM_TOP)/*/ssim_device.d

# The size stamp changes only when ROWS/COLS do: switching size relinks
# the library from that size's (cached) objects. The flags stamp changes
# only when the Verilator or compiler options do: it re-Verilates every
# model.
.PHONY: sim-force
$(SIM_STAMP): sim-force
	$(Q)mkdir -p $(@D) && { echo '$(SIM_SIZE)' | cmp -s - $@ || echo '$(SIM_SIZE)' > $@; }

SIM_FLAGS := $(VERILATOR) $(SIM_VFLAGS) $(SIM_VFLAGS_TRACE) $(SIM_VFLAGS_COV) $(SIM_VMAKE)
$(SIM_FLAGS_STAMP): sim-force
	$(Q)mkdir -p $(@D) && { echo "$(SIM_FLAGS)" | cmp -s - $@ || echo "$(SIM_FLAGS)" > $@; }

# Inputs of one variant of the library: $(call SIM_LINK_DEPS,variant dir,runtime objects)
SIM_LINK_DEPS = $(SIM_TOP)/$(1)/ssim_device.o $(SIM_COMMON_OBJS) $(SIM_TOP)/$(1)/Vsampan_axi_top__ALL.a \
                $(addprefix $(SIM_TOP)/$(1)/,$(2)) $(SIM_UNIT_LIBS) sim/sampan_sim.map $(SIM_STAMP)
SIM_LINK = $(call SIM_LOCK,$(SIM_DIR)/$(@F)) mkdir -p $(@D) && $(CXX) $(SIM_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(SIM_LDLIBS)

$(SIM_LIB): $(call SIM_LINK_DEPS,top,$(SIM_RT))
	$(call msg,LD,$@)
	$(Q)$(SIM_LINK); $(call SIM_UNLOCK,$(SIM_DIR)/$(@F))

$(SIM_LIB_TRACE): $(call SIM_LINK_DEPS,top_trace,$(SIM_RT_TRACE))
	$(call msg,LD,$@)
	$(Q)$(SIM_LINK) -lz; $(call SIM_UNLOCK,$(SIM_DIR)/$(@F))

$(SIM_LIB_COV): $(call SIM_LINK_DEPS,top_cov,$(SIM_RT_COV))
	$(call msg,LD,$@)
	$(Q)$(SIM_LINK); $(call SIM_UNLOCK,$(SIM_DIR)/$(@F))

.PHONY: sim
sim: $(SIM_LIB) $(SIM_LIB_TRACE)

# ------------------------------------------------------ the lite core

# The lite core (sampan_axi_top with LITE=1, the iCEBreaker's core: 4x2,
# 128-bit bus, 32-bit addresses and counters, 12 MHz)
# behind the same card-memory model and C ABI: build/sim/lite/libsampan_sim.so
# (named like the plain build, for SAMPAN_SIM_LIB). The same top as the
# full card, so ssim_device.cpp wraps it unchanged. test_axi_faults_lite links it.
SIM_LITE_DIR := $(SIM_DIR)/lite
SIM_LITE_LIB := $(SIM_LITE_DIR)/libsampan_sim.so
SIM_LITE_GEN := -GLITE=1 -GROWS=4 -GCOLS=2 -GK_DEPTH=512 -GACC_SLOTS=2 -GP_ENTRIES=2 -GAXI_DATA_WIDTH=128 \
                -GAXI_ADDR_WIDTH=32 -GCLOCK_MHZ=12 -GCOUNTER_WIDTH=32

$(eval $(call SIM_MODEL,$(SIM_LITE_DIR)/top,Vsampan_axi_top,sampan_axi_top,$(SIM_LITE_GEN),$(SIM_RT)))

$(SIM_LITE_DIR)/top/ssim_device.o: sim/ssim_device.cpp $(SIM_LITE_DIR)/top/Vsampan_axi_top.mk
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(SIM_CXXFLAGS) -isystem $(SIM_LITE_DIR)/top -DVM_TRACE=0 -DVM_COVERAGE=0 -c -o $@ $<

-include $(SIM_LITE_DIR)/top/ssim_device.d

$(SIM_LITE_LIB): $(SIM_LITE_DIR)/top/ssim_device.o $(SIM_COMMON_OBJS) $(SIM_LITE_DIR)/top/Vsampan_axi_top__ALL.a \
                 $(addprefix $(SIM_LITE_DIR)/top/,$(SIM_RT)) $(SIM_UNIT_LIBS) sim/sampan_sim.map
	$(call msg,LD,$@)
	$(Q)$(call SIM_LOCK,$@) $(CXX) $(SIM_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(SIM_LDLIBS); $(call SIM_UNLOCK,$@)

.PHONY: sim-lite
sim-lite: $(SIM_LITE_LIB)

# --------------------------------------------------- GEMM checker program

# ssim_gemm runs GEMMs through any build of the library (dlopen), encoding
# the commands of rtl/ARCHITECTURE.md itself, and checks them bit-exactly.
$(SIM_GEMM): sim/ssim_gemm.c sim/sampan_sim.h | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS_BASE) $(CFLAGS) -Isim -o $@ $< $(LDFLAGS) -ldl -lm

.PHONY: sim-check
sim-check: $(SIM_LIB) $(SIM_GEMM)
	$(Q)for s in 16x16x16 37x300x53 1x1x1 64x2100x40; do \
	  IFS=x read m k n <<< "$$s"; \
	  $(SIM_GEMM) --lib $(SIM_LIB) -m $$m -k $$k -n $$n --seed 1 || exit 1; \
	  $(SIM_GEMM) --lib $(SIM_LIB) -m $$m -k $$k -n $$n --seed 2 --raw || exit 1; \
	done
	$(Q)for f in opcode range align rderr wrerr; do \
	  $(SIM_GEMM) --lib $(SIM_LIB) -m 20 -k 40 -n 20 --fault $$f || exit 1; \
	done

# ---------------------------------------------------------------- coverage

# Line/toggle coverage of the RTL under a GEMM workload (shapes with ragged
# tiles, K chunks, several LOAD_P groups, raw and requantized output, a slow
# memory, every error code). Counter files per card go to dat/; the merged
# result to build/coverage/rtl/ (rtl.info, html/).
SIM_COV_OUT := build/coverage/rtl
SIM_COV_RUNS := "-m 16 -k 16 -n 16" "-m 37 -k 300 -n 53" "-m 37 -k 300 -n 53 --raw" "-m 1 -k 1 -n 1" \
                "-m 40 -k 2100 -n 20" "-m 16 -k 40 -n 1100 --raw" \
                "-m 33 -k 100 -n 40 --bw 8 --latency 200 --outstanding 1" \
                "--fault opcode" "--fault range" "--fault align" "--fault rderr" "--fault wrerr"

.PHONY: coverage sim-coverage
coverage: sim-coverage

sim-coverage: $(SIM_LIB_COV) $(SIM_GEMM)
	$(Q)rm -rf $(SIM_COV_OUT) && mkdir -p $(SIM_COV_OUT)/dat
	$(Q)for r in $(SIM_COV_RUNS); do \
	  SSIM_COVERAGE_DIR=$(SIM_COV_OUT)/dat $(SIM_GEMM) --lib $(SIM_LIB_COV) --seed 7 $$r || exit 1; \
	done
	$(Q)verilator_coverage --write $(SIM_COV_OUT)/merged.dat $(SIM_COV_OUT)/dat/*.dat
	$(Q)verilator_coverage --write-info $(SIM_COV_OUT)/rtl.info $(SIM_COV_OUT)/merged.dat
	$(Q)genhtml -q --output-directory $(SIM_COV_OUT)/html $(SIM_COV_OUT)/rtl.info
	@echo "coverage: RTL report $(SIM_COV_OUT)/html/index.html"
	@lcov --summary $(SIM_COV_OUT)/rtl.info 2>&1 | sed -n 's/^ *lines\.*: */coverage: RTL line coverage /p'

# --------------------------------------------------------------- simspeed

# Simulated cycles per second of the AXI top under Verilator and Icarus on
# the same command list (see sim/simspeed.sh); figures in build/simspeed.json.
SIM_TB_VVP := $(SIM_DIR)/icarus/$(SIM_SIZE)/sampan_tb.vvp
SIMSPEED_KT ?= 1024
SIMSPEED_VERILATOR_RUNS ?= 200
SIMSPEED_ICARUS_SECONDS ?= 40

$(SIM_TB_VVP): sim/tb/sampan_tb.v $(RTL_SRCS) | $(DEPS_STAMP)
	$(call msg,IVERILOG,$@)
	$(Q)mkdir -p $(@D) && $(IVERILOG) -g2012 -Wno-timescale -s sampan_tb -P sampan_tb.ROWS=$(ROWS) \
	  -P sampan_tb.COLS=$(COLS) -P sampan_tb.K_DEPTH=$(SIMSPEED_KT) -o $@ sim/tb/sampan_tb.v $(RTL_SRCS)

.PHONY: simspeed
simspeed: $(SIM_LIB) $(SIM_GEMM) $(SIM_TB_VVP)
	$(Q)sim/simspeed.sh $(SIM_GEMM) $(SIM_LIB) $(SIM_TB_VVP) $(ROWS) $(COLS) $(SIMSPEED_KT) \
	  $(SIMSPEED_VERILATOR_RUNS) $(SIMSPEED_ICARUS_SECONDS) build/simspeed.json

# ------------------------------------------------------------ sim-usb

# The simulated USB board (stream shell): build/libsampan_simusb.so.
include sim/usb/simusb.mk
