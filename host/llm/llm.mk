# host/llm/llm.mk - language-model host code (host/llm): the GGUF reader and
# writer and the tokenizers, archived in $(LLM_LIB), which the CLI and the
# tests link before libsampan, with $(LLM_LIBS). Included by host/host.mk.

LLM_LIB  := $(BUILD)/libsampan_llm.a
# The tokenizers take Unicode categories from PCRE2 (Debian's libpcre2-dev).
LLM_LIBS := -lpcre2-8
LLM_SRCS := $(sort $(wildcard host/llm/*.c))
LLM_OBJS := $(LLM_SRCS:host/%.c=$(BUILD)/host/%.o)

$(LLM_LIB): $(LLM_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

-include $(LLM_OBJS:.o=.d)
