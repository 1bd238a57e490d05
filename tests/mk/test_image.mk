# tests/mk/test_image.mk - test_image: the PNG and PGM readers
# (host/data/image.c) and `sampan run` on a PNG.
TEST_NAMES += test_image
TEST_OBJS_test_image     := spawn util
TEST_ARCHIVES_test_image := $(ONNX_LIB)
TEST_LDLIBS_test_image   := $(ONNX_LIBS)
$(TEST_DIR)/test_image.o: TEST_CFLAGS += $(ONNX_CFLAGS)
$(TEST_DIR)/test_image.o: | $(ONNX_GEN)/onnx.pb-c.h
