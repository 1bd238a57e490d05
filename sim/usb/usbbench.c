/*
 * usbbench.c - throughput of the USB framing on the `sim-usb` device
 * (`make usbbench`): large card-memory writes and reads through
 * usb_proto.c and the simulated stream shell, in simulated time, against
 * the raw rate of the simulated link; and GEMMs end to end. Prints a table
 * and writes the figures as one JSON object to the file named by --json.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampan.h"
#include "usb_sim.h"

#define MIB (1u << 20)

struct figure {
	unsigned link_mb_s;
	double write_mb_s, read_mb_s, write_overhead, read_overhead;
	double link_bytes_per_payload; /* write direction */
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "usbbench: %s: %s: %s\n", what, sampan_strerror(err), sampan_last_error());
	return 1;
}

/* Simulated seconds of the link so far. */
static int sim_seconds(struct sampan_device *dev, double *s, struct usb_proto_stats *ps,
                       struct usb_sim_link *link)
{
	int err = usb_sim_counters(dev, ps, link);

	if (err < 0)
		return err;
	*s = (double)link->cycles / (link->clock_mhz * 1e6);
	return SAMPAN_OK;
}

/* Writes and reads back @bytes through one device at @mb_s. */
static int measure(unsigned mb_s, size_t bytes, struct figure *f)
{
	char name[64];
	struct sampan_device *dev;
	struct sampan_buffer *buf;
	struct usb_proto_stats p0, p1, p2;
	struct usb_sim_link l;
	uint8_t *src = malloc(bytes), *dst = malloc(bytes);
	double t0, t1, t2, raw;
	int err, rc = 1;

	if (!src || !dst) {
		fprintf(stderr, "usbbench: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < bytes; i++)
		src[i] = (uint8_t)(i * 2654435761u >> 13);
	snprintf(name, sizeof(name), "sim-usb:link=%u", mb_s);
	if ((err = sampan_open(&dev, name)) < 0) {
		rc = fail(name, err);
		goto out;
	}
	if ((err = sampan_buffer_create(dev, bytes, &buf)) < 0 ||
	    (err = sim_seconds(dev, &t0, &p0, &l)) < 0 ||
	    (err = sampan_buffer_write(buf, 0, src, bytes)) < 0 ||
	    (err = sim_seconds(dev, &t1, &p1, &l)) < 0 ||
	    (err = sampan_buffer_read(buf, 0, dst, bytes)) < 0 ||
	    (err = sim_seconds(dev, &t2, &p2, &l)) < 0) {
		rc = fail(name, err);
		goto out_close;
	}
	if (memcmp(src, dst, bytes)) {
		fprintf(stderr, "usbbench: %s: data read back differs\n", name);
		goto out_close;
	}
	raw = (double)l.link_bytes_per_s;
	f->link_mb_s = mb_s;
	f->write_mb_s = (double)bytes / (t1 - t0) / 1e6;
	f->read_mb_s = (double)bytes / (t2 - t1) / 1e6;
	f->write_overhead = 1.0 - f->write_mb_s * 1e6 / raw;
	f->read_overhead = 1.0 - f->read_mb_s * 1e6 / raw;
	f->link_bytes_per_payload = (double)(p1.bytes_out - p0.bytes_out) / (double)bytes;
	rc = 0;
out_close:
	sampan_close(dev);
out:
	free(src);
	free(dst);
	return rc;
}

/* One requantized 256 x 256 x 256 GEMM on sim-usb at 40 MB/s: where the
 * simulated time goes (link vs core). */
struct gemm_figure {
	double link_s, core_s;
	uint64_t host_bytes, cycles;
};

static int measure_gemm(struct gemm_figure *gf)
{
	enum { M = 256, K = 256, N = 256 };
	struct sampan_device *dev;
	struct sampan_gemm g = {.m = M, .k = K, .n = N, .lo = -128, .hi = 127};
	struct sampan_stats st;
	struct usb_proto_stats ps;
	struct usb_sim_link l;
	int8_t *a = malloc(M * K), *w = malloc(N * K), *out = malloc(M * N);
	int32_t *mult = malloc(N * 4), *shift = malloc(N * 4);
	double t0, t1;
	int err, rc = 1;

	if (!a || !w || !out || !mult || !shift) {
		fprintf(stderr, "usbbench: out of memory\n");
		goto out;
	}
	for (int i = 0; i < M * K; i++)
		a[i] = (int8_t)(i * 7);
	for (int i = 0; i < N * K; i++)
		w[i] = (int8_t)(i * 13);
	for (int i = 0; i < N; i++) {
		mult[i] = 1 << 30;
		shift[i] = -8;
	}
	g.a = a;
	g.w = w;
	g.mult = mult;
	g.shift = shift;
	g.out = out;
	if ((err = sampan_open(&dev, "sim-usb")) < 0) {
		rc = fail("sim-usb", err);
		goto out;
	}
	if ((err = sim_seconds(dev, &t0, &ps, &l)) < 0 || (err = sampan_gemm(dev, &g)) < 0 ||
	    (err = sim_seconds(dev, &t1, &ps, &l)) < 0 || (err = sampan_get_stats(dev, &st)) < 0) {
		rc = fail("gemm on sim-usb", err);
		goto out_close;
	}
	gf->link_s = t1 - t0;
	gf->cycles = st.cycles;
	gf->core_s = (double)st.cycles / (l.clock_mhz * 1e6);
	gf->host_bytes = st.host_bytes_in + st.host_bytes_out;
	rc = 0;
out_close:
	sampan_close(dev);
out:
	free(a);
	free(w);
	free(out);
	free(mult);
	free(shift);
	return rc;
}

int main(int argc, char **argv)
{
	struct gemm_figure gf = {0};
	static const unsigned rates[] = {40, 100};
	struct figure f[2];
	const char *json = argc == 3 && !strcmp(argv[1], "--json") ? argv[2] : NULL;
	size_t bytes = MIB / 2;
	FILE *out;

	printf("usbbench: %zu KiB written and read back through the framing on sim-usb\n",
	       bytes >> 10);
	printf(
	    "  link MB/s   write MB/s  overhead   read MB/s  overhead   link bytes/payload byte\n");
	for (int i = 0; i < 2; i++) {
		if (measure(rates[i], bytes, &f[i]))
			return 1;
		printf("  %9u   %10.2f  %7.2f%%  %10.2f  %7.2f%%   %.4f\n", f[i].link_mb_s,
		       f[i].write_mb_s, 100 * f[i].write_overhead, f[i].read_mb_s,
		       100 * f[i].read_overhead, f[i].link_bytes_per_payload);
	}
	if (measure_gemm(&gf))
		return 1;
	printf("  GEMM 256x256x256 at 40 MB/s: %.2f ms simulated, %.3f ms of it in the core "
	       "(%" PRIu64 " cycles), %" PRIu64 " host bytes\n",
	       gf.link_s * 1e3, gf.core_s * 1e3, gf.cycles, gf.host_bytes);
	if (!json)
		return 0;
	out = fopen(json, "w");
	if (!out) {
		perror(json);
		return 1;
	}
	fprintf(out, "{\"bytes\": %zu, \"links\": [", bytes);
	for (int i = 0; i < 2; i++)
		fprintf(out,
		        "%s{\"link_mb_s\": %u, \"write_mb_s\": %.3f, \"write_overhead\": %.5f, "
		        "\"read_mb_s\": %.3f, \"read_overhead\": %.5f, \"link_bytes_per_payload\": "
		        "%.5f}",
		        i ? ", " : "", f[i].link_mb_s, f[i].write_mb_s, f[i].write_overhead,
		        f[i].read_mb_s, f[i].read_overhead, f[i].link_bytes_per_payload);
	fprintf(out,
	        "], \"gemm_256\": {\"simulated_seconds\": %.6f, \"core_seconds\": %.6f, "
	        "\"cycles\": %" PRIu64 ", \"host_bytes\": %" PRIu64 "}}\n",
	        gf.link_s, gf.core_s, gf.cycles, gf.host_bytes);
	fclose(out);
	printf("usbbench: figures in %s\n", json);
	return 0;
}
