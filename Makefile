# sampan: top-level Makefile.
#
# Everything builds out of tree under build/. Each part of the tree brings
# its own fragment (rtl/rtl.mk, sim/sim.mk, driver/driver.mk, host/host.mk,
# tests/tests.mk); this file holds what they share. `make V=1` shows the
# commands, `make SANITIZE=1` builds C with ASan and UBSan under
# build/san/, `make ROWS=8 COLS=16` changes the array size.

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
SHELL := /bin/bash

# ----------------------------------------------------------------- settings

ROWS     ?= 16
COLS     ?= 16
SANITIZE ?= 0
PREFIX   ?= /usr/local
DESTDIR  ?=
V        ?= 0

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
else
BUILD    ?= build
endif

Q := $(if $(filter 1,$(V)),,@)
msg = $(if $(filter 1,$(V)),,@printf '  %-8s %s\n' '$(1)' '$(2)')

CC       ?= cc
CXX      ?= c++
WERROR   ?= -Werror
CFLAGS_BASE := -std=c11 -O2 -g -fPIC -Wall -Wextra $(WERROR) \
               -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -MMD -MP
SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ALL_CFLAGS  = $(CFLAGS_BASE) $(SAN_FLAGS) -Idriver/include $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)

# ------------------------------------------------------------ dependencies
# Debian packages the build and tests need. As root the missing ones are
# installed; otherwise the exact apt command is printed.

DEPS_PKGS := build-essential pkg-config verilator yosys iverilog \
             libcriterion-dev libusb-1.0-0-dev lcov libxml2-utils tcl \
             protobuf-c-compiler libprotobuf-c-dev python3-onnx libonnx-testdata \
             zlib1g-dev dataset-fashion-mnist libpcre2-dev
DEPS_STAMP := build/.deps-ok

.PHONY: deps
deps: $(DEPS_STAMP)

# $(call apt_ensure,WHO,PACKAGES): installs the missing Debian packages
# when run as root; otherwise prints the apt command and fails.
define apt_ensure
	$(Q)missing=""; for p in $(2); do \
	  dpkg-query -W -f='$${Status}' $$p 2>&1 | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "$(1): installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null || \
	      { echo "$(1): apt-get install failed" >&2; exit 1; }; \
	  else \
	    echo "$(1): missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

$(DEPS_STAMP):
	$(call apt_ensure,deps,$(DEPS_PKGS))
	$(Q)mkdir -p $(@D) && touch $@

# --------------------------------------------------------------- fragments

include rtl/rtl.mk
include rtl/vitis/vitis.mk
include sim/sim.mk
include driver/driver.mk
include driver/ggml/ggml.mk
include host/host.mk
include tests/tests.mk
# Optional fragments: fuzzing (make fuzz) and board builds (make bitstream).
include $(wildcard tests/fuzz/fuzz.mk rtl/boards/boards.mk)
# Static timing estimate (make timing): after the boards, whose builds it reads.
include rtl/synth/timing.mk

# ------------------------------------------------------------------ top

.PHONY: all run clean
all: lib sim cli

# The main job, no Python involved: the simulated device; the demo
# Fashion-MNIST CNN quantized to int8 (from the committed float model and
# calibration images) classifying the sample images on it, each image's
# class and label, the accuracy and per layer where the time goes; then
# checked GEMMs (int8 and a Q8_0 matrix-vector product) with their cycle
# counts and array utilization; last, the trilingual language model
# generating a few tokens in English, Mandarin and Cantonese on the device.
FMNIST_FLOAT   := host/models/fmnist_cnn.onnx
FMNIST_CALIB   := host/models/calib
FMNIST_SAMPLES := host/models/samples
FMNIST_LABELS  := host/models/fmnist_labels.txt
FMNIST_INT8    := $(BUILD)/models/fmnist_cnn_int8.onnx
# The small trilingual language model trained here (host/models/llm/).
LLM_DEMO       := host/models/llm/sampan-tri-q8_0.gguf

$(FMNIST_INT8): $(FMNIST_FLOAT) $(SAMPAN_CLI) $(wildcard $(FMNIST_CALIB)/*)
	$(call msg,QUANT,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAMPAN_CLI) quantize $(FMNIST_FLOAT) --calib $(FMNIST_CALIB) -o $@ > $(@:.onnx=.log) || \
	  { cat $(@:.onnx=.log); exit 1; }

run: all $(FMNIST_INT8)
	$(BUILD)/sampan info -d sim
	$(BUILD)/sampan eval $(FMNIST_INT8) -d sim --data $(FMNIST_SAMPLES) --labels $(FMNIST_LABELS) --list
	$(BUILD)/sampan gemm -d sim -m 37 -k 300 -n 53 --check
	$(BUILD)/sampan gemm -d sim -m 256 -k 512 -n 256 --check
	$(BUILD)/sampan gemm -d sim --format q8_0 -m 1 -k 1024 -n 1024 --check
	@for p in 'The ' '香港' '佢哋'; do \
	  $(BUILD)/sampan generate $(LLM_DEMO) -d sim -p "$$p" -n 16 --temp 0 || exit 1; echo; \
	done

clean:
	rm -rf build
