# tests/mk/test_ft601.mk - the FT600/FT601 path without a chip: the read
# requests and configuration checks of driver/src/usb_ft60x.c, the `usb`
# backend's FT60x names with no board attached, and the bridge
# (rtl/stream/sampan_ft601_fifo.v) under Icarus (FT601_TB, rtl/stream/stream.mk).
TEST_NAMES += test_ft601
TEST_OBJS_test_ft601 :=
$(TEST_DIR)/test_ft601.o: TEST_CFLAGS += -Idriver/src -DTEST_FT601_VVP='"$(abspath $(FT601_TB))"'
$(TEST_DIR)/test_ft601: $(FT601_TB)
