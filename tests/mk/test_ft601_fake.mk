# tests/mk/test_ft601_fake.mk - the usb backend's FT600/FT601 path in
# process, against a libusb test double (tests/fake_ft60x_usb.c) whose chip
# forwards to the simulated stream shell. The double's object comes before
# libsampan and -lusb-1.0 on the link line, so its libusb functions are
# the ones the backend calls; the simulated board's library is linked in
# place as for test_usb.
TEST_NAMES += test_ft601_fake
TEST_OBJS_test_ft601_fake   := fake_ft60x_usb ref util gemm_case
TEST_LDLIBS_test_ft601_fake := -L$(dir $(SIMUSB_LIB)) -lsampan_simusb \
                               -Wl,-rpath,$(abspath $(dir $(SIMUSB_LIB)))
TEST_ARCHIVES_test_ft601_fake := $(SIMUSB_LIB)
$(TEST_DIR)/fake_ft60x_usb.o: TEST_CFLAGS += $(LIBUSB_CFLAGS)
