# tests/mk/test_eval.mk - test_eval: the idx reader (host/data) and
# `sampan eval`. Links the ONNX library (idx reader, image reader) and
# zlib, and builds its small models with the generated ONNX bindings.
TEST_NAMES += test_eval
TEST_OBJS_test_eval     := json spawn util
TEST_ARCHIVES_test_eval := $(ONNX_LIB)
TEST_LDLIBS_test_eval   := $(ONNX_LIBS)
$(TEST_DIR)/test_eval.o: TEST_CFLAGS += $(ONNX_CFLAGS)
$(TEST_DIR)/test_eval.o: | $(ONNX_GEN)/onnx.pb-c.h

# `sampan eval`, the data-set reader and this suite follow .clang-format.
.PHONY: eval-lint
lint: eval-lint
eval-lint:
	$(call msg,FORMAT,host/cmd_eval.c host/data tests/test_eval.c)
	$(Q)if command -v clang-format >/dev/null; then \
	  clang-format --dry-run --Werror host/cmd_eval.c host/data/*.[ch] tests/test_eval.c; \
	else echo "eval-lint: clang-format not installed, format check skipped"; fi
