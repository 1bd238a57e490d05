# tests/mk/test_llm.mk - test_llm: the language-model runtime (host/llm/
# model.c, sample.c) on random llama and qwen2 GGUF files against a float
# reference, and `sampan generate`, `chat` and `perplexity`.
TEST_NAMES += test_llm
TEST_OBJS_test_llm     := util json spawn
TEST_ARCHIVES_test_llm := $(LLM_LIB)
TEST_LDLIBS_test_llm   := $(LLM_LIBS)
$(TEST_DIR)/test_llm.o: TEST_CFLAGS += -Ihost
