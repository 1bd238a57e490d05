# tests/fuzz/fuzz.mk - fuzzing the readers of untrusted files with
# libFuzzer (clang), included by the top-level Makefile.
#
#   make fuzz                    every harness for FUZZ_SECONDS (default 150 s
#                                each, 17.5 minutes in all), seeded with the
#                                committed corpus and the bug reproducers of
#                                tests/fuzz/regress/; new inputs go to
#                                build/fuzz/corpus/<harness>/, crashes to
#                                build/fuzz/crashes/; exit 1 on any crash
#   make fuzz FUZZ_SECONDS=30    a short run
#   make fuzz FUZZ_TARGETS=fuzz_image
#   make fuzz-merge              minimizes committed + new inputs back into
#                                tests/fuzz/corpus/<harness>/ (-merge=1)
#   make fuzz-regress            the committed corpus once through the
#                                harnesses built with $(CC) + ASan/UBSan
#                                (no libFuzzer needed); part of a full
#                                `make test` (not of `make test TESTS=...`)
#
# Harnesses (tests/fuzz/<name>.c): fuzz_onnx (onnx_model_load_buffer),
# fuzz_onnx_run (import, then a run on device cpu with zero inputs),
# fuzz_image (PGM and PNG decoding into a tensor), fuzz_npy (npy_read_any),
# fuzz_tensor_pb (onnx_tensor_read_pb, the node tests' TensorProto files),
# fuzz_gguf (gguf_open_memory, then every value, row and the tokenizer of an
# opened file), fuzz_tokenizer (tok_encode and tok_piece on text, with
# round trips checked).
#
# Both fuzz builds lower the runtime's limits so that a hostile model costs
# milliseconds, not minutes: tensors of at most 2^20 elements instead of
# 2^28, host ops of at most 2^24 steps instead of 2^32. The code paths are
# the same; only the thresholds differ.

FUZZ_SECONDS ?= 150
FUZZ_TARGETS ?= fuzz_onnx fuzz_onnx_run fuzz_image fuzz_npy fuzz_tensor_pb fuzz_gguf fuzz_tokenizer
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-jobs=2.
FUZZ_FLAGS   ?=
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_REG_DIR := build/fuzz-regress
FUZZ_CORPUS  := tests/fuzz/corpus
FUZZ_HARNESSES := fuzz_onnx fuzz_onnx_run fuzz_image fuzz_npy fuzz_tensor_pb fuzz_gguf fuzz_tokenizer

# What the harnesses link: the importer, runtime and image readers, the
# .npy reader, the GGUF reader/writer and tokenizers (host/llm), the
# generated protobuf-c bindings and libsampan (cpu).
FUZZ_LIB_SRCS := host/onnx/onnx_import.c host/onnx/tensor.c host/onnx/qdq_fold.c \
                 host/data/image.c host/fileio.c $(wildcard host/runtime/*.c) \
                 host/npy.c $(LLM_SRCS) $(DRIVER_SRCS) $(ONNX_GEN)/onnx.pb-c.c
FUZZ_DEFS  := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
              -D'ONNX_MAX_ELEMENTS=((int64_t)1 << 20)' -D'HOST_MAX_WORK=((int64_t)1 << 24)'
FUZZ_INCS  := -Idriver/include -Idriver/src -Isim -Ihost -I$(ONNX_GEN) $(LIBUSB_CFLAGS)
FUZZ_LIBS  := $(ONNX_LIBS) $(LLM_LIBS) $(LIBSAMPAN_LIBS) -lm
# float-cast-overflow: part of clang's "undefined", not of gcc's.
FUZZ_SAN   := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
FUZZ_CFLAGS     := -std=c11 -O1 -g -Wall -Wextra $(FUZZ_DEFS) $(FUZZ_INCS) $(FUZZ_SAN)
FUZZ_REG_CFLAGS := -std=c11 -O1 -g -Wall -Wextra $(FUZZ_DEFS) $(FUZZ_INCS) $(FUZZ_SAN)

FUZZ_LIB_OBJS     := $(addprefix $(FUZZ_DIR)/obj/,$(FUZZ_LIB_SRCS:.c=.o))
FUZZ_REG_LIB_OBJS := $(addprefix $(FUZZ_REG_DIR)/obj/,$(FUZZ_LIB_SRCS:.c=.o))
FUZZ_BINS     := $(addprefix $(FUZZ_DIR)/bin/,$(FUZZ_HARNESSES))
FUZZ_REG_BINS := $(addprefix $(FUZZ_REG_DIR)/bin/,$(FUZZ_HARNESSES))
FUZZ_CLANG_STAMP := $(FUZZ_DIR)/.clang-ok
# Objects made by pattern rules are kept between runs.
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_REG_LIB_OBJS) \
            $(patsubst %,$(FUZZ_REG_DIR)/obj/tests/fuzz/%.o,$(FUZZ_HARNESSES) regress_main)

.PHONY: fuzz fuzz-build fuzz-merge fuzz-regress fuzz-regress-build

$(FUZZ_CLANG_STAMP):
	$(call apt_ensure,fuzz,clang)
	$(Q)mkdir -p $(@D) && touch $@

# libFuzzer objects: coverage instrumentation without libFuzzer's main.
# Every fuzz object depends on this file, so that a change of flags
# rebuilds them.
$(FUZZ_DIR)/obj/%.o: %.c tests/fuzz/fuzz.mk | $(FUZZ_CLANG_STAMP) $(ONNX_GEN)/onnx.pb-c.h
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/bin/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) tests/fuzz/fuzz.mk
	$(call msg,FUZZLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) $(FUZZ_LIBS)

# The regression build: the normal compiler, ASan and UBSan, a plain main.
$(FUZZ_REG_DIR)/obj/%.o: %.c tests/fuzz/fuzz.mk | $(DEPS_STAMP) $(ONNX_GEN)/onnx.pb-c.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FUZZ_REG_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_REG_DIR)/bin/%: $(FUZZ_REG_DIR)/obj/tests/fuzz/%.o $(FUZZ_REG_DIR)/obj/tests/fuzz/regress_main.o \
                       $(FUZZ_REG_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d $(FUZZ_DIR)/obj/*/*/*/*.d \
                    $(FUZZ_REG_DIR)/obj/*/*.d $(FUZZ_REG_DIR)/obj/*/*/*.d $(FUZZ_REG_DIR)/obj/*/*/*/*.d)

fuzz-build: $(addprefix $(FUZZ_DIR)/bin/,$(FUZZ_TARGETS))

# Each harness in turn; a crash stops that harness only, and the summary
# names every reproducer this run wrote (replay one with
# build/fuzz/bin/<harness> FILE).
fuzz: fuzz-build
	$(Q)mkdir -p $(FUZZ_DIR)/crashes $(FUZZ_DIR)/logs; failed=""; touch $(FUZZ_DIR)/.run-start; \
	for h in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$h $(FUZZ_CORPUS)/$$h; \
	  echo "fuzz: $$h for $(FUZZ_SECONDS) s (log $(FUZZ_DIR)/logs/$$h.log)"; \
	  dict=$$(case $$h in fuzz_onnx*|fuzz_tensor_pb) echo tests/fuzz/onnx.dict;; \
	         fuzz_image) echo tests/fuzz/image.dict;; fuzz_npy) echo tests/fuzz/npy.dict;; \
	         fuzz_gguf) echo tests/fuzz/gguf.dict;; fuzz_tokenizer) echo tests/fuzz/tokenizer.dict;; esac); \
	  maxlen=$$(case $$h in fuzz_onnx*) echo 65536;; fuzz_image) echo 32768;; fuzz_gguf) echo 16384;; \
	           fuzz_tokenizer) echo 4096;; *) echo 8192;; esac); \
	  if $(FUZZ_DIR)/bin/$$h $(FUZZ_DIR)/corpus/$$h $(FUZZ_CORPUS)/$$h \
	       $$(test -d tests/fuzz/regress/$$h && echo tests/fuzz/regress/$$h) \
	       -max_total_time=$(FUZZ_SECONDS) -max_len=$$maxlen -timeout=10 -rss_limit_mb=2048 \
	       -dict=$$dict -artifact_prefix=$(FUZZ_DIR)/crashes/$$h- -print_final_stats=1 \
	       $(FUZZ_FLAGS) > $(FUZZ_DIR)/logs/$$h.log 2>&1; then \
	    grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units' $(FUZZ_DIR)/logs/$$h.log | tail -2; \
	  else \
	    grep -E 'ERROR|SUMMARY|Test unit written' $(FUZZ_DIR)/logs/$$h.log | head -5; \
	    failed="$$failed $$h"; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then \
	  echo "fuzz: FAILED:$$failed; reproducers (crash, leak, timeout, oom) of this run:"; \
	  find $(FUZZ_DIR)/crashes -type f -newer $(FUZZ_DIR)/.run-start | sed 's/^/  /'; exit 1; \
	fi; echo "fuzz: no crash"

# Minimizes the committed corpus plus what the runs found into
# tests/fuzz/corpus/<harness>/ (inputs that add coverage only).
fuzz-merge: fuzz-build
	$(Q)for h in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_DIR)/merge/$$h && mkdir -p $(FUZZ_DIR)/merge/$$h $(FUZZ_DIR)/corpus/$$h $(FUZZ_CORPUS)/$$h; \
	  $(FUZZ_DIR)/bin/$$h -merge=1 -timeout=10 $(FUZZ_DIR)/merge/$$h $(FUZZ_CORPUS)/$$h \
	    $(FUZZ_DIR)/corpus/$$h > $(FUZZ_DIR)/merge/$$h.log 2>&1 || \
	    { tail -5 $(FUZZ_DIR)/merge/$$h.log; exit 1; }; \
	  rm -f $(FUZZ_CORPUS)/$$h/* && cp $(FUZZ_DIR)/merge/$$h/* $(FUZZ_CORPUS)/$$h/; \
	  echo "fuzz-merge: $$h: $$(ls $(FUZZ_CORPUS)/$$h | wc -l) inputs, $$(du -sk $(FUZZ_CORPUS)/$$h | cut -f1) KiB"; \
	done

fuzz-regress-build: $(FUZZ_REG_BINS)

fuzz-regress: fuzz-regress-build
	$(Q)for h in $(FUZZ_HARNESSES); do \
	  dirs="$(FUZZ_CORPUS)/$$h $$(test -d tests/fuzz/regress/$$h && echo tests/fuzz/regress/$$h)"; \
	  ASAN_OPTIONS=detect_leaks=1 $(FUZZ_REG_DIR)/bin/$$h $$dirs || { \
	    echo "fuzz-regress: $$h failed; the input at fault:"; \
	    ASAN_OPTIONS=detect_leaks=1 $(FUZZ_REG_DIR)/bin/$$h -v $$dirs 2>&1 | grep '^regress: ' | tail -1; \
	    exit 1; }; \
	done

# A few seconds once built: part of the full test run.
ifeq ($(origin TESTS),file)
test: fuzz-regress
endif

# The harnesses follow the tree's .clang-format.
.PHONY: fuzz-lint
lint: fuzz-lint
fuzz-lint:
	$(call msg,FORMAT,tests/fuzz)
	$(Q)if command -v clang-format >/dev/null; then \
	  clang-format --dry-run --Werror tests/fuzz/*.c; \
	else echo "fuzz-lint: clang-format not installed, format check skipped"; fi
