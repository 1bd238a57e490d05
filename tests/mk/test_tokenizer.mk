# tests/mk/test_tokenizer.mk - test_tokenizer: the SentencePiece and
# byte-level BPE tokenizers (host/llm/tokenizer.c) on vocabularies the
# test writes with the GGUF writer.
TEST_NAMES += test_tokenizer
TEST_OBJS_test_tokenizer     := util
TEST_ARCHIVES_test_tokenizer := $(LLM_LIB)
TEST_LDLIBS_test_tokenizer   := $(LLM_LIBS)
$(TEST_DIR)/test_tokenizer.o: TEST_CFLAGS += -Ihost
