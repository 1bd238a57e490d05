# tests/mk/test_axi_faults.mk - AXI error responses at every R beat and B
# response of a run, and a memory that waits for WVALID before AWREADY:
# test_axi_faults on the full card (build/libsampan_sim.so), and
# test_axi_faults_lite, the same source on the lite core
# (build/sim/lite/libsampan_sim.so, see sim/sim.mk).
TEST_NAMES += test_axi_faults test_axi_faults_lite
TEST_LDLIBS_test_axi_faults      = $(TEST_SIM_LDFLAGS)
TEST_OBJS_test_axi_faults      := ref util simdev gemm_case
TEST_OBJS_test_axi_faults_lite := ref util simdev gemm_case
TEST_LDLIBS_test_axi_faults_lite = -L$(SIM_LITE_DIR) -lsampan_sim -Wl,-rpath,$(abspath $(SIM_LITE_DIR))
$(TEST_DIR)/test_axi_faults: $(SIM_LIB)
$(TEST_DIR)/test_axi_faults_lite: $(SIM_LITE_LIB)
$(TEST_DIR)/test_axi_faults_lite.o: tests/test_axi_faults.c
