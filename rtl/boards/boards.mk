# rtl/boards/boards.mk - board tops and their builds.
#
#   make bitstream BOARD=icebreaker   Yosys + nextpnr-ice40 + icepack
#   make bitstream BOARD=arty         Vivado batch (where installed)
#   make flash BOARD=<board>          load it onto an attached board
#
# Each board directory rtl/boards/<board>/ has a board.mk that defines the
# target bitstream-<board> (and whatever else it offers).

BOARD ?=
BOARDS := $(notdir $(patsubst %/,%,$(dir $(wildcard rtl/boards/*/board.mk))))

include $(wildcard rtl/boards/*/board.mk)

.PHONY: bitstream flash
bitstream flash:
	$(Q)if [ -z '$(BOARD)' ]; then \
	  echo "$@: say which board: make $@ BOARD=<$(subst $(eval) ,|,$(BOARDS))>" >&2; exit 2; fi
	$(Q)case ' $(BOARDS) ' in *' $(BOARD) '*) ;; \
	  *) echo "$@: unknown board '$(BOARD)' (known: $(BOARDS))" >&2; exit 2;; esac
	$(Q)$(MAKE) --no-print-directory $@-$(BOARD)
