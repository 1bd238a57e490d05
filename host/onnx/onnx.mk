# host/onnx/onnx.mk - ONNX import and the graph runtime (host/onnx,
# host/runtime), included by host/host.mk.
#
# The protobuf-c bindings are generated at build time from the onnx.proto
# that Debian's python3-onnx ships (nothing of ONNX is kept in the tree),
# into $(ONNX_GEN). Everything is archived in $(ONNX_LIB), which the CLI and
# the tests link before libsampan, with $(ONNX_LIBS).

ONNX_PROTO ?= /usr/lib/python3/dist-packages/onnx/onnx.proto
ONNX_GEN   := $(BUILD)/onnx-gen
ONNX_LIB   := $(BUILD)/libsampan_onnx.a
ONNX_LIBS  := -lprotobuf-c -lz
ONNX_SRCS  := host/onnx/onnx_import.c host/onnx/tensor.c host/onnx/qdq_fold.c \
              host/runtime/runtime.c host/runtime/ops.c \
              host/runtime/host_ops.c host/fileio.c \
              $(sort $(wildcard host/quant/*.c host/data/*.c))
ONNX_OBJS  := $(ONNX_SRCS:host/%.c=$(BUILD)/host/%.o)
# Objects that include the generated header.
ONNX_USERS := $(ONNX_OBJS) $(BUILD)/host/cmd_run.o $(BUILD)/host/cmd_quantize.o \
              $(BUILD)/host/cmd_eval.o $(BUILD)/host/input.o
ONNX_CFLAGS = -I$(ONNX_GEN) -Ihost

$(ONNX_GEN)/onnx.pb-c.c: | $(DEPS_STAMP)
	$(call msg,PROTOC,$@)
	$(Q)test -r $(ONNX_PROTO) || { echo "onnx: $(ONNX_PROTO) not found (Debian package python3-onnx)" >&2; exit 1; }
	$(Q)mkdir -p $(@D)
	$(Q)protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(@D) $(ONNX_PROTO)
$(ONNX_GEN)/onnx.pb-c.h: $(ONNX_GEN)/onnx.pb-c.c ;

$(ONNX_GEN)/onnx.pb-c.o: $(ONNX_GEN)/onnx.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(ONNX_GEN) -c -o $@ $<

$(ONNX_USERS): ALL_CFLAGS += $(ONNX_CFLAGS)
$(ONNX_USERS): | $(ONNX_GEN)/onnx.pb-c.h

$(ONNX_LIB): $(ONNX_OBJS) $(ONNX_GEN)/onnx.pb-c.o
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

-include $(ONNX_OBJS:.o=.d) $(ONNX_GEN)/onnx.pb-c.d
