# driver/ggml/ggml.mk - llama.cpp on sampan devices: the pinned llama.cpp
# source, its build with the sampan ggml backend, and their tests.
#
#   make llama-src    node-llama-cpp@3.21.1 from npm (exact version,
#                     --ignore-scripts) under build/llama-npm, its
#                     llama/gitRelease.bundle checked against a pinned
#                     sha256 and cloned to build/llama.cpp-src
#   make llama        llama.cpp built out of tree in build/llama.cpp
#                     (llama-cli, llama-completion, llama-server,
#                     llama-bench, test-backend-ops, rpc-server, GGML_RPC=ON)
#                     and the sampan backend build/ggml-sampan/libggml-sampan.so,
#                     which ggml loads from $GGML_BACKEND_PATH
#   make test-llama   test-backend-ops on the sampan devices, greedy tokens
#                     against the CPU backend, llama-server and rpc-server on
#                     loopback, a device lost mid-run, the committed
#                     trilingual model against `sampan generate` and
#                     `sampan perplexity` (tests/llama/test-llama.sh)
#   make bench-llama  llama-bench (pp and tg tokens/s) on the CPU backend and
#                     on the sampan devices, device cycles per token
#                     (tests/llama/bench-llama.sh; figures, no assertions)
#
# Nothing here is part of `make all` or `make test` (CI time): llama.cpp
# takes 10+ minutes to build. The llama.cpp build is niced and uses at most
# LLAMA_JOBS jobs. It always builds under build/, also with SANITIZE=1.

LLAMA_NPM_PKG    := node-llama-cpp@3.21.1
LLAMA_BUNDLE_SHA := 9336d8aab8f8e6a8919380f3641fe92e57b02fb55df1b6bd083b82491a6293b8
LLAMA_COMMIT     := 80fb11ac73e66d89eae2c6a91d8a77428fa733ed
LLAMA_NPM        := build/llama-npm
LLAMA_BUNDLE     := $(LLAMA_NPM)/node_modules/node-llama-cpp/llama/gitRelease.bundle
LLAMA_SRC        := build/llama.cpp-src
LLAMA_SRC_STAMP  := build/.llama-src-ok
LLAMA_OUT        := build/llama.cpp
LLAMA_BIN        := $(LLAMA_OUT)/bin
LLAMA_JOBS       ?= 2
LLAMA_TARGETS    := test-backend-ops llama-completion llama-cli llama-server llama-bench \
                    llama-perplexity ggml-rpc-server
LLAMA_CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Release \
                     -DGGML_RPC=ON \
                     -DGGML_CCACHE=OFF \
                     -DLLAMA_OPENSSL=OFF \
                     -DLLAMA_BUILD_EXAMPLES=OFF \
                     -DLLAMA_BUILD_APP=OFF \
                     -DLLAMA_BUILD_UI=OFF \
                     -DLLAMA_USE_PREBUILT_UI=OFF

GGML_SAMPAN_DIR  := build/ggml-sampan
GGML_SAMPAN_LIB  := $(GGML_SAMPAN_DIR)/libggml-sampan.so
# ggml's public headers, and ggml-backend-impl.h / ggml-impl.h (the backend
# interface) from its source; -isystem: their warnings are not ours.
GGML_SAMPAN_CFLAGS := -std=c11 -O2 -g -fPIC -Wall -Wextra $(WERROR) -MMD -MP \
                      -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Idriver/include \
                      -isystem $(LLAMA_SRC)/ggml/include -isystem $(LLAMA_SRC)/ggml/src
GGML_SAMPAN_LIBS := -L$(LLAMA_BIN) -lggml -lggml-base -Wl,-rpath,$(abspath $(LLAMA_BIN)) \
                    -L$(BUILD) -lsampan -Wl,-rpath,$(abspath $(BUILD)) -lpthread

# g++ and make come with `make deps` (build-essential); curl for the
# server tests; npm is not a Debian package here: it must be a command.
LLAMA_DEPS_PKGS  := cmake git curl python3-numpy python3-yaml
LLAMA_DEPS_STAMP := build/.deps-llama-ok

.PHONY: llama-src llama llama-build test-llama bench-llama deps-llama
deps-llama: $(LLAMA_DEPS_STAMP)

$(LLAMA_DEPS_STAMP): | $(DEPS_STAMP)
	$(call apt_ensure,deps-llama,$(LLAMA_DEPS_PKGS))
	$(Q)command -v npm >/dev/null || { echo "deps-llama: npm (Node.js) is needed to fetch $(LLAMA_NPM_PKG)" >&2; exit 1; }
	$(Q)mkdir -p $(@D) && touch $@

llama-src: $(LLAMA_SRC_STAMP)

# npm from its cache when it has the package, else from the registry.
# A clone already at the pinned commit is kept (a new one would rebuild all).
$(LLAMA_SRC_STAMP): | $(LLAMA_DEPS_STAMP)
	$(call msg,NPM,$(LLAMA_NPM_PKG))
	$(Q)mkdir -p $(LLAMA_NPM)
	$(Q)test -f $(LLAMA_NPM)/package.json || echo '{"name":"sampan-llama-src","private":true}' > $(LLAMA_NPM)/package.json
	$(Q)test -f $(LLAMA_BUNDLE) || \
	  (cd $(LLAMA_NPM) && npm i -E --ignore-scripts --no-audit --no-fund --prefer-offline $(LLAMA_NPM_PKG) >/dev/null) || \
	  { echo "llama-src: npm i $(LLAMA_NPM_PKG) failed" >&2; exit 1; }
	$(Q)echo '$(LLAMA_BUNDLE_SHA)  $(LLAMA_BUNDLE)' | sha256sum -c --quiet - || \
	  { echo "llama-src: $(LLAMA_BUNDLE) does not have the pinned sha256 $(LLAMA_BUNDLE_SHA)" >&2; exit 1; }
	$(call msg,CLONE,$(LLAMA_SRC))
	$(Q)if [ "$$(git -C $(LLAMA_SRC) rev-parse HEAD 2>/dev/null)" != $(LLAMA_COMMIT) ] || \
	     [ -n "$$(git -C $(LLAMA_SRC) status --porcelain 2>/dev/null)" ]; then \
	  rm -rf $(LLAMA_SRC) && git clone -q $(LLAMA_BUNDLE) $(LLAMA_SRC) 2>/dev/null; fi
	$(Q)test "$$(git -C $(LLAMA_SRC) rev-parse HEAD)" = $(LLAMA_COMMIT) || \
	  { echo "llama-src: $(LLAMA_SRC) is not at commit $(LLAMA_COMMIT)" >&2; exit 1; }
	$(Q)touch $@

$(LLAMA_OUT)/CMakeCache.txt: $(LLAMA_SRC_STAMP)
	$(call msg,CMAKE,$(LLAMA_OUT))
	$(Q)nice -n 19 cmake -S $(LLAMA_SRC) -B $(LLAMA_OUT) $(LLAMA_CMAKE_FLAGS) > $(LLAMA_OUT).configure.log 2>&1 || \
	  { cat $(LLAMA_OUT).configure.log; exit 1; }

# cmake tracks what to rebuild; this recipe always asks it.
llama-build: $(LLAMA_OUT)/CMakeCache.txt
	$(call msg,BUILD,$(LLAMA_OUT) ($(LLAMA_TARGETS)))
	$(Q)nice -n 19 cmake --build $(LLAMA_OUT) -j$(LLAMA_JOBS) --target $(LLAMA_TARGETS) > $(LLAMA_OUT).build.log 2>&1 || \
	  { tail -40 $(LLAMA_OUT).build.log; echo "llama: build failed, log in $(LLAMA_OUT).build.log" >&2; exit 1; }

$(GGML_SAMPAN_DIR)/ggml-sampan.o: driver/ggml/ggml-sampan.c $(LLAMA_SRC_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(GGML_SAMPAN_CFLAGS) -c $< -o $@

$(GGML_SAMPAN_LIB): $(GGML_SAMPAN_DIR)/ggml-sampan.o $(LIBSAMPAN_SO) llama-build
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -o $@ $(GGML_SAMPAN_DIR)/ggml-sampan.o $(GGML_SAMPAN_LIBS)

llama: $(GGML_SAMPAN_LIB) sim

-include $(GGML_SAMPAN_DIR)/ggml-sampan.d

# ------------------------------------------------------------------ tests

LLAMA_MODEL := build/llama-models/tiny-llama-q8_0.gguf

$(LLAMA_MODEL): tests/llama/make_tiny_llama.py $(LLAMA_SRC_STAMP)
	$(call msg,GGUF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)/usr/bin/python3 $< $(LLAMA_SRC)/gguf-py $@ > /dev/null

# the committed trilingual model of host/models/llm and its held-out text
LLAMA_TRI_MODEL := host/models/llm/sampan-tri-q8_0.gguf
LLAMA_TRI_TEXT  := host/models/llm/heldout.txt

LLAMA_TEST_ENV = SAMPAN_CLI=$(abspath $(SAMPAN_CLI)) LLAMA_BIN=$(abspath $(LLAMA_BIN)) \
  GGML_SAMPAN_LIB=$(abspath $(GGML_SAMPAN_LIB)) SAMPAN_SIM_LIB=$(abspath $(SIM_LIB)) \
  LLAMA_MODEL=$(abspath $(LLAMA_MODEL)) LLAMA_TRI_MODEL=$(abspath $(LLAMA_TRI_MODEL)) \
  LLAMA_TRI_TEXT=$(abspath $(LLAMA_TRI_TEXT))

# LLAMA_TESTS="greedy-sim server" runs only those (see the script).
test-llama: llama cli $(LLAMA_MODEL)
	$(Q)$(LLAMA_TEST_ENV) LLAMA_RESULTS=$(abspath build/llama-results) \
	  tests/llama/test-llama.sh $(LLAMA_TESTS)

# Benchmarks: figures printed and kept in build/llama-bench, never asserted.
bench-llama: llama cli $(LLAMA_MODEL)
	$(Q)$(LLAMA_TEST_ENV) LLAMA_RESULTS=$(abspath build/llama-bench) \
	  tests/llama/bench-llama.sh $(LLAMA_BENCHES)
