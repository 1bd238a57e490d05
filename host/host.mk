# host/host.mk: the `sampan` CLI, $(BUILD)/sampan, linked statically
# against libsampan; and `make bench`.

HOST_SRCS := host/main.c host/cli.c host/cmd_devices.c host/cmd_gemm.c \
             host/cmd_bench.c host/cmd_selftest.c host/gemm_data.c host/npy.c host/ref.c \
             host/cmd_run.c host/cmd_quantize.c host/cmd_eval.c host/input.c \
             host/llm_cmd.c host/cmd_generate.c host/cmd_chat.c host/cmd_perplexity.c
HOST_OBJS := $(HOST_SRCS:host/%.c=$(BUILD)/host/%.o)
SAMPAN_CLI := $(BUILD)/sampan

.PHONY: cli bench
cli: $(SAMPAN_CLI)

# ONNX import and runtime: $(ONNX_LIB), $(ONNX_LIBS).
include host/onnx/onnx.mk
# GGUF reader and writer, tokenizers: $(LLM_LIB), $(LLM_LIBS).
include host/llm/llm.mk

$(SAMPAN_CLI): $(HOST_OBJS) $(LLM_LIB) $(ONNX_LIB) $(LIBSAMPAN_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(HOST_OBJS) $(LLM_LIB) $(ONNX_LIB) $(LIBSAMPAN_A) $(LIBSAMPAN_LIBS) $(LLM_LIBS) $(ONNX_LIBS) -lm

$(BUILD)/host/%.o: host/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

-include $(HOST_OBJS:.o=.d)

# Utilization per shape on the simulated RTL: the table on the terminal,
# the figures in build/bench.json (written whole or not at all); then the
# simulator's own speed if the sim fragment measures it.
bench: cli sim
	$(Q)$(SAMPAN_CLI) bench -d sim --json > build/bench.json.tmp
	$(Q)mv build/bench.json.tmp build/bench.json
	@echo "bench: figures in build/bench.json"
	$(Q)if $(MAKE) -n simspeed >/dev/null 2>&1; then $(MAKE) --no-print-directory simspeed; fi

# ------------------------------------------------------------ hil
# Hardware-in-the-loop: the conformance suite (`sampan selftest`) on one
# device, `make hil DEVICE=xrt:0` (default sim). The JUnit XML and TAP
# results stay in build/hil/<device>.junit.xml and .tap (device name with
# ':' ',' '=' '/' turned into '_'). A device that is absent (selftest exits
# 77: no board, no XRT) prints SKIPPED and succeeds; any failure fails.
# `make hil-ci` runs it on sim and, when this build has it, on sim-usb
# (clean and with link faults).
# Exit status of selftest: 0 pass, 1 fail, 2 usage, 77 device absent.
DEVICE      ?= sim
HIL_DIR     := build/hil
# The USB path twice: clean, and with every link fault class injected
# (each must end in a correct result after a retry or a clear error).
HIL_CI_DEVS := sim sim-usb sim-usb:faults=drop+dup+corrupt+stall,every=3000,seed=7

.PHONY: hil hil-ci
# The simulators are built only for simulated devices: a lab machine that
# tests a board needs no Verilator.
hil: cli $(if $(filter sim%,$(DEVICE)),sim)
	$(Q)mkdir -p $(HIL_DIR)
	$(Q)f=$(HIL_DIR)/$$(printf '%s' '$(DEVICE)' | tr -c 'A-Za-z0-9._-' '_'); \
	rc=0; $(SAMPAN_CLI) selftest -d '$(DEVICE)' --junit $$f.junit.xml --tap $$f.tap || rc=$$?; \
	case $$rc in \
	  0) echo "hil: $(DEVICE): PASSED ($$f.junit.xml, $$f.tap)";; \
	  77) echo "hil: $(DEVICE): SKIPPED (device absent)";; \
	  *) echo "hil: $(DEVICE): FAILED (exit $$rc; $$f.junit.xml, $$f.tap)"; exit 1;; \
	esac

# CI runs them with a fixed selftest seed (HIL_SEED), so that a failure
# reproduces; `make hil` alone takes a new seed each run (printed).
# Known: with the faulted link, seed 19113046140 fails timeout.resume (a
# write request exhausts its 16 retries); open in issue 11's note.
HIL_SEED ?= 1
hil-ci: cli sim
	$(Q)export SAMPAN_SELFTEST_SEED=$(HIL_SEED); for d in $(HIL_CI_DEVS); do \
	  if [ $$d != sim ] && ! $(SAMPAN_CLI) devices | grep -q "^$${d%%:*} "; then \
	    echo "hil: $$d: not in this build, not run"; continue; \
	  fi; \
	  $(MAKE) --no-print-directory hil DEVICE=$$d || exit 1; \
	done
include host/models/models.mk

# ------------------------------------------------------------ format
# `make lint` checks every C file of the tree against the root
# .clang-format (driver/src through driver-lint, the rest here).
# FORMAT_PENDING lists files left out of the check (none now).
FORMAT_PENDING :=
FORMAT_ALL     := $(sort $(wildcard driver/include/*.h sim/*.c sim/*.h host/*.c host/*.h \
                    host/*/*.c host/*/*.h tests/*.c tests/*.h tests/fuzz/*.c tests/fuzz/*.h))
FORMAT_FILES   := $(filter-out $(FORMAT_PENDING),$(FORMAT_ALL))

.PHONY: format-lint format
lint: format-lint
format-lint:
	$(call msg,FORMAT,$(words $(FORMAT_FILES)) C files ($(words $(FORMAT_PENDING)) pending))
	$(Q)if command -v clang-format >/dev/null; then \
	  clang-format --dry-run --Werror $(FORMAT_FILES); \
	else echo "format-lint: clang-format not installed, format check skipped"; fi
format:
	clang-format -i $(FORMAT_ALL) $(wildcard driver/src/*.c driver/src/*.h)
