# tests/mk/test_quant.mk - post-training quantization (host/quant,
# `sampan quantize`): calibration methods, parameter rules, random models,
# the ONNX node tests through quantization on cpu and sim, and the CLI.
TEST_NAMES += test_quant
TEST_OBJS_test_quant     := spawn json util
TEST_ARCHIVES_test_quant := $(ONNX_LIB)
TEST_LDLIBS_test_quant   := $(ONNX_LIBS)
$(TEST_DIR)/test_quant.o: TEST_CFLAGS += $(ONNX_CFLAGS)
$(TEST_DIR)/test_quant.o: | $(ONNX_GEN)/onnx.pb-c.h

# The quantizer, `sampan quantize` and this suite follow .clang-format.
.PHONY: quant-lint
lint: quant-lint
quant-lint:
	$(call msg,FORMAT,host/quant host/cmd_quantize.c tests/test_quant.c)
	$(Q)if command -v clang-format >/dev/null; then \
	  clang-format --dry-run --Werror host/quant/*.[ch] host/cmd_quantize.c tests/test_quant.c; \
	else echo "quant-lint: clang-format not installed, format check skipped"; fi
