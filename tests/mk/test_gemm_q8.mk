# tests/mk/test_gemm_q8.mk - block-scaled (Q8_0) numerics: the integer-only
# reference by hand, the host fp16 conversions and quantizer, bit-exact
# GEMMs on every device, resident weights and their errors.
TEST_NAMES += test_gemm_q8
TEST_OBJS_test_gemm_q8 := ref util
