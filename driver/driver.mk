# driver/driver.mk - libsampan: $(BUILD)/libsampan.a and $(BUILD)/libsampan.so
# (soname libsampan.so.0), and `make install` of the whole project.
#
# For the CLI and the tests: link $(LIBSAMPAN_A) $(LIBSAMPAN_LIBS), or
# $(LIBSAMPAN_SO).

LIBSAMPAN_VERSION := 0.1.0
LIBSAMPAN_SONAME  := libsampan.so.0
LIBSAMPAN_A       := $(BUILD)/libsampan.a
LIBSAMPAN_SO      := $(BUILD)/libsampan.so
# The usb backend links libusb-1.0 (plain -lusb-1.0 before `deps` has run).
LIBUSB_CFLAGS     := $(shell pkg-config --cflags libusb-1.0 2>/dev/null || echo -I/usr/include/libusb-1.0)
LIBUSB_LIBS       := $(shell pkg-config --libs libusb-1.0 2>/dev/null || echo -lusb-1.0)
LIBSAMPAN_LIBS    := -ldl -lm $(LIBUSB_LIBS)

DRIVER_SRCS := $(wildcard driver/src/*.c)
DRIVER_OBJS := $(DRIVER_SRCS:driver/src/%.c=$(BUILD)/driver/%.o)
# sim/sampan_sim.h is the ABI that backend_sim.c loads.
DRIVER_CFLAGS := -Idriver/src -Isim
# Where an installed sim backend finds the simulation library; the stamp
# rebuilds backend_sim.o when PREFIX changes.
DRIVER_SIM_LIBDIR := $(PREFIX)/lib/sampan
DRIVER_PREFIX_STAMP := $(BUILD)/driver/prefix.stamp

.PHONY: lib driver-prefix-check
lib: $(LIBSAMPAN_A) $(LIBSAMPAN_SO) $(BUILD)/$(LIBSAMPAN_SONAME)

$(BUILD)/driver/%.o: driver/src/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(DRIVER_CFLAGS) -c $< -o $@

$(BUILD)/driver/backend_sim.o: DRIVER_CFLAGS += -DSAMPAN_SIM_LIBDIR='"$(DRIVER_SIM_LIBDIR)"'
$(BUILD)/driver/backend_sim.o: $(DRIVER_PREFIX_STAMP)
$(BUILD)/driver/backend_simusb.o: DRIVER_CFLAGS += -DSAMPAN_SIM_LIBDIR='"$(DRIVER_SIM_LIBDIR)"'
$(BUILD)/driver/backend_simusb.o: $(DRIVER_PREFIX_STAMP)
$(BUILD)/driver/backend_usb.o: DRIVER_CFLAGS += $(LIBUSB_CFLAGS)

$(DRIVER_PREFIX_STAMP): driver-prefix-check
	@mkdir -p $(@D)
	@echo '$(DRIVER_SIM_LIBDIR)' | cmp -s - $@ || echo '$(DRIVER_SIM_LIBDIR)' > $@

$(LIBSAMPAN_A): $(DRIVER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/libsampan.so.$(LIBSAMPAN_VERSION): $(DRIVER_OBJS) driver/libsampan.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,$(LIBSAMPAN_SONAME) \
	  -Wl,--version-script=driver/libsampan.map -o $@ $(DRIVER_OBJS) $(ALL_LDFLAGS) $(LIBSAMPAN_LIBS)

$(BUILD)/$(LIBSAMPAN_SONAME) $(LIBSAMPAN_SO): $(BUILD)/libsampan.so.$(LIBSAMPAN_VERSION)
	$(Q)ln -sf $(<F) $@

-include $(DRIVER_OBJS:.o=.d)

# ------------------------------------------------------------------ install
# Library, header and sampan.pc; the simulation libraries where the sim
# backend looks for them ($(PREFIX)/lib/sampan); the CLI.

INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib

.PHONY: install
install: all
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_LIB)/sampan \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	$(Q)install -m 644 $(LIBSAMPAN_A) $(INSTALL_LIB)/
	$(Q)install -m 755 $(BUILD)/libsampan.so.$(LIBSAMPAN_VERSION) $(INSTALL_LIB)/
	$(Q)ln -sf libsampan.so.$(LIBSAMPAN_VERSION) $(INSTALL_LIB)/$(LIBSAMPAN_SONAME)
	$(Q)ln -sf $(LIBSAMPAN_SONAME) $(INSTALL_LIB)/libsampan.so
	$(Q)install -m 644 driver/include/sampan.h $(DESTDIR)$(PREFIX)/include/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIBSAMPAN_VERSION)|' \
	  driver/sampan.pc.in > $(INSTALL_LIB)/pkgconfig/sampan.pc
	$(Q)for f in $(SIM_LIB) $(SIM_LIB_TRACE) $(SIMUSB_LIB); do \
	  if [ -f $$f ]; then install -m 755 $$f $(INSTALL_LIB)/sampan/; fi; \
	done
	$(Q)install -m 755 $(SAMPAN_CLI) $(DESTDIR)$(PREFIX)/bin/

# ------------------------------------------------------------------ lint
# The driver follows the root .clang-format; skipped if clang-format is absent.

.PHONY: driver-lint
lint: driver-lint
driver-lint:
	$(call msg,FORMAT,driver/src)
	$(Q)if command -v clang-format >/dev/null; then \
	  clang-format --dry-run --Werror driver/src/*.c driver/src/*.h; \
	else echo "driver-lint: clang-format not installed, format check skipped"; fi
