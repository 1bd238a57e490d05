/*
 * install_probe.c - a user's first program against an installed libsampan,
 * compiled by test_install with `pkg-config --cflags --libs sampan`. Runs
 * one small raw GEMM with fixed operands on the device named by argv[1]
 * and prints the 3 x 4 result, one row per line.
 */
#include <sampan.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int8_t a[3 * 5], w[4 * 5];
	int32_t bias[4] = {1000, -1000, 2147483647, 0}, y[3 * 4];
	struct sampan_device *dev;
	struct sampan_gemm g = {.m = 3,
	                        .k = 5,
	                        .n = 4,
	                        .a = a,
	                        .w = w,
	                        .bias = bias,
	                        .za = -3,
	                        .lo = -128,
	                        .hi = 127,
	                        .raw = 1,
	                        .out = y};
	int err;

	for (int i = 0; i < 15; i++)
		a[i] = (int8_t)(i * 17 - 120);
	for (int i = 0; i < 20; i++)
		w[i] = (int8_t)(100 - i * 11);
	err = sampan_open(&dev, argc > 1 ? argv[1] : "sim");
	if (err != SAMPAN_OK) {
		fprintf(stderr, "sampan_open: %s: %s\n", sampan_strerror(err), sampan_last_error());
		return 1;
	}
	err = sampan_gemm(dev, &g);
	if (err != SAMPAN_OK) {
		fprintf(stderr, "sampan_gemm: %s: %s\n", sampan_strerror(err), sampan_last_error());
		sampan_close(dev);
		return 1;
	}
	for (int m = 0; m < 3; m++)
		printf("%d %d %d %d\n", (int)y[4 * m], (int)y[4 * m + 1], (int)y[4 * m + 2],
		       (int)y[4 * m + 3]);
	sampan_close(dev);
	return 0;
}
