# rtl/vitis/vitis.mk - the sampan core as a Vitis RTL kernel for Alveo cards.
#
#   make xo                      build/vitis/sampan.xo (Vivado: package_xo.tcl)
#   make xclbin PLATFORM=NAME    build/vitis/sampan_NAME.xclbin (v++ --link)
#   make vitis-check             what this machine can check without Vitis:
#                                lint (Verilator -Wall), Icarus and Yosys
#                                elaboration of sampan_kernel, kernel.xml and
#                                package_xo.tcl (check_kernel_xml.sh); also
#                                part of `make lint`
#
# xo and xclbin need Vivado/Vitis 2022.1 or newer on PATH (source
# settings64.sh) and, for xclbin, the platform installed; without them they
# say so and exit 2. The array size is ROWS x COLS; the kernel clock is
# VITIS_CLOCK_MHZ (also what the CLOCK_MHZ register reports).

VITIS_DIR   := rtl/vitis
VITIS_BUILD := build/vitis
VITIS_XO    := $(VITIS_BUILD)/sampan.xo
VITIS_SRCS  := $(VITIS_DIR)/sampan_kernel.v $(RTL_SRCS)
VIVADO      ?= vivado
VPP         ?= v++
VITIS_CLOCK_MHZ ?= 300
VITIS_TARGET    ?= hw
PLATFORM        ?= xilinx_u250_gen3x16_xdma_4_1_202210_1

# Supported platforms and the memory bank gmem is connected to on each.
VITIS_PLATFORMS := xilinx_u250_gen3x16_xdma_4_1_202210_1 \
                   xilinx_u280_gen3x16_xdma_1_202211_1 \
                   xilinx_u55c_gen3x16_xdma_3_202210_1
VITIS_SP_xilinx_u250_gen3x16_xdma_4_1_202210_1 := DDR[0]
VITIS_SP_xilinx_u280_gen3x16_xdma_1_202211_1   := HBM[0:31]
VITIS_SP_xilinx_u55c_gen3x16_xdma_3_202210_1   := HBM[0:31]

VITIS_VPP_FLAGS := --link                                   # link the .xo into the platform
VITIS_VPP_FLAGS += --target $(VITIS_TARGET)                 # hw (or hw_emu)
VITIS_VPP_FLAGS += --platform $(PLATFORM)                   # the card's shell
VITIS_VPP_FLAGS += --kernel_frequency $(VITIS_CLOCK_MHZ)    # ap_clk in MHz
VITIS_VPP_FLAGS += --connectivity.nk sampan:1:sampan_1      # one compute unit
VITIS_VPP_FLAGS += --connectivity.sp sampan_1.m_axi_gmem:$(VITIS_SP_$(PLATFORM)) # its bank
VITIS_VPP_FLAGS += --save-temps                             # keep reports for timing closure
VITIS_VPP_FLAGS += --temp_dir $(VITIS_BUILD)/_x.$(PLATFORM) # ... under build/ only

.PHONY: xo xclbin vitis-check vitis-tools-vivado vitis-tools-vpp
xo: $(VITIS_XO)

# Exit 2 (not a build failure of ours) when the vendor tools are missing.
vitis-tools-vivado:
	@command -v $(VIVADO) >/dev/null || { \
	  echo "xo: '$(VIVADO)' not found: packaging the kernel needs Vivado 2022.1+ (source /tools/Xilinx/Vivado/<ver>/settings64.sh)" >&2; \
	  exit 2; }

vitis-tools-vpp:
	@command -v $(VPP) >/dev/null || { \
	  echo "xclbin: '$(VPP)' not found: linking needs Vitis 2022.1+ (source /tools/Xilinx/Vitis/<ver>/settings64.sh) and the platform $(PLATFORM)" >&2; \
	  exit 2; }
	@case ' $(VITIS_PLATFORMS) ' in *' $(PLATFORM) '*) ;; *) \
	  echo "xclbin: unsupported PLATFORM '$(PLATFORM)'; supported: $(VITIS_PLATFORMS)" >&2; exit 2;; esac

$(VITIS_XO): $(VITIS_SRCS) $(VITIS_DIR)/kernel.xml $(VITIS_DIR)/package_xo.tcl | vitis-tools-vivado
	$(call msg,VIVADO,$@)
	$(Q)mkdir -p $(VITIS_BUILD)
	$(Q)$(VIVADO) -mode batch -nojournal -nolog -notrace -source $(VITIS_DIR)/package_xo.tcl \
	  -tclargs $(abspath $@) $(abspath $(VITIS_BUILD)/pack) $(abspath $(VITIS_DIR)/kernel.xml) \
	  $(ROWS) $(COLS) $(VITIS_CLOCK_MHZ) $(abspath $(VITIS_SRCS)) > $(VITIS_BUILD)/package_xo.log 2>&1 || \
	  { tail -n 30 $(VITIS_BUILD)/package_xo.log; echo "xo: failed, log in $(VITIS_BUILD)/package_xo.log" >&2; exit 1; }

xclbin: vitis-tools-vpp
	$(Q)$(MAKE) --no-print-directory $(VITIS_BUILD)/sampan_$(PLATFORM).xclbin

$(VITIS_BUILD)/sampan_%.xclbin: $(VITIS_XO) | vitis-tools-vpp
	$(call msg,V++,$@)
	$(Q)$(VPP) $(VITIS_VPP_FLAGS) -o $@ $< > $(VITIS_BUILD)/link_$*.log 2>&1 || \
	  { tail -n 30 $(VITIS_BUILD)/link_$*.log; echo "xclbin: v++ failed, log in $(VITIS_BUILD)/link_$*.log" >&2; exit 1; }
	@echo "xclbin: $@; run with: sampan selftest -d xrt:0,xclbin=$@"

# ------------------------------------------------------------------ checks

VITIS_LINT_SIZES := 16x16 4x4 8x16

lint: vitis-check
vitis-check: | $(DEPS_STAMP)
	$(Q)set -e; for size in $(VITIS_LINT_SIZES); do \
	  printf '  %-8s %s\n' LINT "sampan_kernel $$size"; \
	  $(VERILATOR) --lint-only -Wall --top-module sampan_kernel \
	    -GROWS=$${size%x*} -GCOLS=$${size#*x} $(VITIS_SRCS); \
	done
	$(call msg,IVERILOG,sampan_kernel)
	$(Q)mkdir -p $(VITIS_BUILD) && $(IVERILOG) -g2012 -Wall -Wno-timescale -s sampan_kernel \
	  -o $(VITIS_BUILD)/sampan_kernel.vvp $(VITIS_SRCS)
	$(call msg,YOSYS,sampan_kernel 4x4 elaboration)
	$(Q)$(YOSYS) -q -l $(VITIS_BUILD)/elaborate.log -p "read_verilog -sv $(VITIS_SRCS); \
	  chparam -set ROWS 4 -set COLS 4 sampan_kernel; hierarchy -check -top sampan_kernel; \
	  proc; check -assert" >/dev/null
	$(Q)$(VITIS_DIR)/check_kernel_xml.sh $(VITIS_DIR)
