# tests/tests.mk - the Criterion test suite (`make test`).
#
# Builds $(BUILD)/tests/test_* against libsampan ($(LIBSAMPAN_A)) and, for
# the RTL tests, the simulation library ($(SIM_LIB)); installs the project
# into $(BUILD)/test-install (DESTDIR, PREFIX=/usr) for the install test;
# then runs every binary through tests/run-tests.sh, which writes TAP and
# JUnit XML to $(BUILD)/test-results/ and ends with "N passed, N failed".
#
#   make test                       everything
#   make test TESTS=test_requant    only some binaries
#   SAMPAN_TEST_SEED=123 make test  replay the random tests of a failing run

TEST_DIR      := $(BUILD)/tests
TEST_RESULTS  := $(BUILD)/test-results
TEST_DESTDIR  := $(abspath $(BUILD)/test-install)
# The install test builds its own plain (unsanitized) copy of the project
# here, so that the PREFIX=/usr build does not overwrite the one under test.
TEST_INSTALL_BUILD := build/test-install-build
TEST_JOBS     ?= 2

TEST_NAMES := test_requant test_rtl_units test_rtl_float test_rtl_q8 test_gemm test_errors test_cli test_install \
              test_selftest test_onnx
# Further suites describe themselves in tests/mk/<suite>.mk (TEST_NAMES +=,
# TEST_OBJS_<suite>, archives and flags as below).
include $(sort $(wildcard tests/mk/*.mk))
TESTS      ?= $(TEST_NAMES)
TEST_BINS  := $(addprefix $(TEST_DIR)/,$(TEST_NAMES))

# Helpers each binary links (objects under $(TEST_DIR)).
TEST_OBJS_test_requant   := ref util
TEST_OBJS_test_rtl_units := ref util simdev
TEST_OBJS_test_rtl_float := util fref
TEST_OBJS_test_rtl_q8    := ref util simdev fref
TEST_OBJS_test_gemm      := ref util gemm_case
TEST_OBJS_test_errors    := ref util simdev
TEST_OBJS_test_cli       := ref util json npyio spawn
TEST_OBJS_test_install   := ref spawn
TEST_OBJS_test_selftest  := spawn
TEST_OBJS_test_onnx      := npyio spawn util

# Binaries that call the sim C ABI directly link the library in place.
TEST_SIM_USERS := test_rtl_units test_rtl_float test_rtl_q8 test_errors

# Archives a binary links before libsampan, and their libraries.
TEST_ARCHIVES_test_onnx := $(ONNX_LIB)
TEST_LDLIBS_test_onnx   := $(ONNX_LIBS)
$(TEST_DIR)/test_onnx.o: TEST_CFLAGS += $(ONNX_CFLAGS)
$(TEST_DIR)/test_onnx.o: | $(ONNX_GEN)/onnx.pb-c.h

# Evaluated in recipes only, after `deps` has installed Criterion.
TEST_CRITERION_CFLAGS = $(shell pkg-config --cflags criterion)
TEST_CRITERION_LIBS   = $(shell pkg-config --libs criterion)
TEST_CFLAGS = $(ALL_CFLAGS) -Isim -Itests $(TEST_CRITERION_CFLAGS) \
              -DTEST_ROWS=$(ROWS) -DTEST_COLS=$(COLS) \
              -DSAMPAN_CLI='"$(abspath $(SAMPAN_CLI))"' -DTEST_SRCDIR='"$(abspath tests)"' \
              -DTEST_FAKE_XRT='"$(abspath $(TEST_FAKE_XRT))"'
TEST_SIM_LDFLAGS = -L$(dir $(SIM_LIB)) -lsampan_sim -Wl,-rpath,$(abspath $(dir $(SIM_LIB)))

.PHONY: test test-build
test-build: $(TEST_BINS)

# The tests compare against ROWS x COLS: a stamp that changes only with
# them recompiles the objects when the array size does.
TEST_SIZE_STAMP := $(TEST_DIR)/size.stamp
.PHONY: test-size-force
$(TEST_SIZE_STAMP): test-size-force
	$(Q)mkdir -p $(@D) && { echo '$(ROWS)x$(COLS)' | cmp -s - $@ || echo '$(ROWS)x$(COLS)' > $@; }

$(TEST_DIR)/%.o: tests/%.c $(TEST_SIZE_STAMP) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CFLAGS) -c -o $@ $<

# $(call TEST_LINK_RULE,name)
define TEST_LINK_RULE
$(TEST_DIR)/$(1): $(TEST_DIR)/$(1).o $(addprefix $(TEST_DIR)/,$(addsuffix .o,$(TEST_OBJS_$(1)))) \
                  $(TEST_ARCHIVES_$(1)) $(LIBSAMPAN_A) $(if $(filter $(1),$(TEST_SIM_USERS)),$(SIM_LIB))
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o %.a,$$^) $$(LIBSAMPAN_LIBS) $(TEST_LDLIBS_$(1)) \
	  $(if $(filter $(1),$(TEST_SIM_USERS)),$$(TEST_SIM_LDFLAGS)) $$(TEST_CRITERION_LIBS) -lm
endef
$(foreach t,$(TEST_NAMES),$(eval $(call TEST_LINK_RULE,$(t))))

# A test double of XRT's C API over the simulated card (tests/fake_xrt.c),
# loaded by the xrt backend through $$SAMPAN_XRT_LIB in test_selftest.
TEST_FAKE_XRT := $(TEST_DIR)/libfake_xrt.so
$(TEST_FAKE_XRT): tests/fake_xrt.c $(SIM_LIB) | $(DEPS_STAMP)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -Isim -shared -o $@ $< $(ALL_LDFLAGS) $(TEST_SIM_LDFLAGS)
$(TEST_DIR)/test_selftest: $(TEST_FAKE_XRT)

-include $(wildcard $(TEST_DIR)/*.d)

# The install tree is rebuilt on every run, from a plain build of its own.
# SAMPAN_SIM_LIB names the library under test for the driver's sim backend
# (a sanitized build under build/san/ would not find build/ on its own);
# the CLI and install tests also check the lookup without it.
test: lib sim cli $(addprefix $(TEST_DIR)/,$(TESTS)) | $(DEPS_STAMP)
	$(Q)rm -rf $(TEST_DESTDIR) && mkdir -p $(TEST_RESULTS)
	$(Q)$(MAKE) --no-print-directory install SANITIZE=0 BUILD=$(TEST_INSTALL_BUILD) \
	  DESTDIR=$(TEST_DESTDIR) PREFIX=/usr > $(TEST_RESULTS)/install.log 2>&1 || \
	  { cat $(TEST_RESULTS)/install.log; echo "test: make install failed"; exit 1; }
	$(Q)SAMPAN_SIM_LIB=$(abspath $(SIM_LIB)) SAMPAN_TEST_DESTDIR=$(TEST_DESTDIR) \
	  LSAN_OPTIONS="suppressions=$(abspath tests/lsan.supp):print_suppressions=0$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}" \
	  tests/run-tests.sh $(TEST_RESULTS) $(TEST_JOBS) $(addprefix $(TEST_DIR)/,$(TESTS))

# ------------------------------------------------------------ USB path
# test_usb (sim-usb GEMMs and link faults, frames spoken straight to the
# simulated USB board) uses the driver's internal framing code and links
# the simulated board's library in place.
TEST_NAMES += test_usb
TEST_SIMUSB_LDFLAGS = -L$(dir $(SIMUSB_LIB)) -lsampan_simusb -Wl,-rpath,$(abspath $(dir $(SIMUSB_LIB)))
$(TEST_DIR)/test_usb.o: TEST_CFLAGS += -Idriver/src -DTEST_USB_BRIDGE_VVP='"$(abspath $(SIMUSB_TB))"'
$(TEST_DIR)/test_usb: $(addprefix $(TEST_DIR)/,test_usb.o ref.o util.o gemm_case.o) $(LIBSAMPAN_A) \
                      $(SIMUSB_LIB) $(SIMUSB_TB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LIBSAMPAN_LIBS) $(TEST_SIMUSB_LDFLAGS) \
	  $(TEST_CRITERION_LIBS) -lm
test: $(if $(filter test_usb,$(TESTS)),$(TEST_DIR)/test_usb)
