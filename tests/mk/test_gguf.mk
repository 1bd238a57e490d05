# tests/mk/test_gguf.mk - test_gguf: the GGUF reader and writer
# (host/llm/gguf.c, gguf_write.c): round trips of every metadata and tensor
# type, dequantization, and refusals of corrupt files.
TEST_NAMES += test_gguf
TEST_OBJS_test_gguf     := util
TEST_ARCHIVES_test_gguf := $(LLM_LIB)
TEST_LDLIBS_test_gguf   := $(LLM_LIBS)
$(TEST_DIR)/test_gguf.o: TEST_CFLAGS += -Ihost
