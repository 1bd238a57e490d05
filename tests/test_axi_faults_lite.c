/*
 * test_axi_faults_lite.c - test_axi_faults.c on the lite core: the same
 * tests, linked against build/sim/lite/libsampan_sim.so (sampan_axi_top
 * with LITE=1 behind the same card-memory model).
 */
#define TEST_LITE 1
#include "test_axi_faults.c"
