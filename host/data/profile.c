/*
 * profile.c - per-layer figures of model runs (see profile.h).
 */
#include "data/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int profile_create(const struct onnx_model *model, struct sampan_device *dev, struct profile **out)
{
	struct profile *p = calloc(1, sizeof(*p));
	size_t n = (size_t)model->n_nodes + 1;

	if (!p)
		return SAMPAN_ERROR_NO_MEM;
	p->model = model;
	p->dev = dev;
	p->nodes = calloc(n, sizeof(*p->nodes));
	p->breakdown = calloc(n, sizeof(*p->breakdown));
	p->seen_gemms = calloc(n, sizeof(*p->seen_gemms));
	if (!p->nodes || !p->breakdown || !p->seen_gemms) {
		profile_destroy(p);
		return SAMPAN_ERROR_NO_MEM;
	}
	*out = p;
	return SAMPAN_OK;
}

void profile_destroy(struct profile *p)
{
	if (!p)
		return;
	free(p->nodes);
	free(p->breakdown);
	free(p->seen_gemms);
	free(p);
}

/* Called by the runtime after each node (its figures already added): a
 * node that ran exactly one device job since last time gets that job's
 * statistics, which the device keeps for its last job. A node with several
 * jobs per run is left out of the breakdown (its jobs count shows it). */
static int on_value(void *user, int value, const struct onnx_tensor *t)
{
	struct profile *p = user;
	int n = p->model->values[value].producer;
	struct sampan_stats s;
	uint64_t jobs;

	(void)t;
	if (n < 0)
		return 0;
	jobs = p->nodes[n].gemms - p->seen_gemms[n];
	p->seen_gemms[n] = p->nodes[n].gemms;
	if (jobs == 1 && sampan_get_stats(p->dev, &s) == SAMPAN_OK) {
		struct profile_breakdown *b = &p->breakdown[n];

		b->jobs++;
		b->cycles += s.cycles;
		b->busy += s.busy_cycles;
		b->stall_mem += s.stall_mem;
		b->stall_dep += s.stall_dep;
		b->bytes_in += s.host_bytes_in;
		b->bytes_out += s.host_bytes_out;
	}
	return 0;
}

void profile_hooks(struct profile *p, struct rt_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->on_value = on_value;
	h->user = p;
	h->node_stats = p->nodes;
}

void profile_add_run(struct profile *p, const struct rt_stats *st)
{
	/* Figures are per inference: a batched run counts its images. */
	p->runs += st->batch > 1 ? (uint64_t)st->batch : 1;
	p->total.batch += st->batch > 1 ? st->batch : 1;
	p->total.host_bytes_in += st->host_bytes_in;
	p->total.host_bytes_out += st->host_bytes_out;
	p->total.gemms += st->gemms;
	p->total.cycles += st->cycles;
	p->total.macs += st->macs;
	p->total.device_seconds += st->device_seconds;
	p->total.total_seconds += st->total_seconds;
}

/* ------------------------------------------------------------------ figures */

/* Array utilization; NaN without cycles (a host node, or no clock). */
static double util(uint64_t macs, uint64_t cycles, const struct sampan_info *info)
{
	return cycles ? (double)macs / ((double)cycles * info->rows * info->cols) : NAN;
}

/* Formats a utilization as a 6-wide table cell, "-" when there is none. */
static const char *util_cell(double u, char *buf, size_t size)
{
	if (isnan(u))
		snprintf(buf, size, "%6s", "-");
	else
		snprintf(buf, size, "%5.1f%%", 100.0 * u);
	return buf;
}

static double per_run(const struct profile *p, double v)
{
	return p->runs ? v / (double)p->runs : 0;
}

/* Where the wall time of the runs went, in seconds summed over the runs. */
struct time_split {
	double wall;                  /* the runs */
	double device;                /* inside device calls (transfers and array) */
	double host_nodes;            /* nodes that ran on the host */
	double host_around;           /* host work of device nodes: im2col, corrections */
	double runtime;               /* outside nodes: input checks, tensors */
	struct profile_breakdown dev; /* device nodes' breakdowns, summed */
	uint64_t device_jobs;         /* all device jobs */
};

static void time_split(const struct profile *p, struct time_split *t)
{
	double nodes = 0;

	memset(t, 0, sizeof(*t));
	t->wall = p->total.total_seconds;
	t->device = p->total.device_seconds;
	t->device_jobs = p->total.gemms;
	for (int n = 0; n < p->model->n_nodes; n++) {
		const struct rt_node_stats *s = &p->nodes[n];
		const struct profile_breakdown *b = &p->breakdown[n];

		nodes += s->seconds;
		if (s->gemms)
			t->host_around += s->seconds - s->device_seconds;
		else
			t->host_nodes += s->seconds;
		t->dev.jobs += b->jobs;
		t->dev.cycles += b->cycles;
		t->dev.busy += b->busy;
		t->dev.stall_mem += b->stall_mem;
		t->dev.stall_dep += b->stall_dep;
		t->dev.bytes_in += b->bytes_in;
		t->dev.bytes_out += b->bytes_out;
	}
	t->runtime = t->wall > nodes ? t->wall - nodes : 0;
}

static double pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

/* Cycles not accounted as busy or stalled (command fetch, setup, drain). */
static uint64_t other_cycles(const struct profile_breakdown *b)
{
	uint64_t known = b->busy + b->stall_mem + b->stall_dep;

	return b->cycles > known ? b->cycles - known : 0;
}

void profile_print(const struct profile *p, const struct sampan_info *info, FILE *f)
{
	struct time_split t;
	double wall_ms = per_run(p, p->total.total_seconds) * 1e3;
	char cell[32];

	time_split(p, &t);
	fprintf(f, "per layer, per inference (%s, %ux%u array%s):\n", info->name, info->rows,
	        info->cols, info->clock_mhz ? "" : ", no clock: no cycles");
	fprintf(f, "  %-3s %-22s %-18s %-6s %5s %10s %10s %6s %9s %9s %6s\n", "#", "node", "op",
	        "on", "jobs", "MACs", "cycles", "util", "wall ms", "dev ms", "share");
	for (int n = 0; n < p->model->n_nodes; n++) {
		const struct rt_node_stats *s = &p->nodes[n];
		const struct onnx_node *node = &p->model->nodes[n];

		fprintf(f,
		        "  %-3d %-22.22s %-18.18s %-6s %5.4g %10.0f %10.0f %s %9.4f %9.4f "
		        "%5.1f%%\n",
		        n, node->name, onnx_op_name(node->op), s->gemms ? "device" : "host",
		        per_run(p, (double)s->gemms), per_run(p, (double)s->macs),
		        per_run(p, (double)s->cycles),
		        util_cell(util(s->macs, s->cycles, info), cell, sizeof(cell)),
		        per_run(p, s->seconds) * 1e3, per_run(p, s->device_seconds) * 1e3,
		        pct(s->seconds, t.wall));
	}
	fprintf(f, "  %-3s %-22s %-18s %-6s %5.4g %10.0f %10.0f %s %9.4f %9.4f %5.1f%%\n", "",
	        "total", "", "", per_run(p, (double)p->total.gemms),
	        per_run(p, (double)p->total.macs), per_run(p, (double)p->total.cycles),
	        util_cell(util(p->total.macs, p->total.cycles, info), cell, sizeof(cell)), wall_ms,
	        per_run(p, t.device) * 1e3, p->runs ? 100.0 : 0.0);
	fprintf(
	    f,
	    "where the time goes (wall, per inference): device calls %.4f ms (%.1f%%), host ops "
	    "%.4f ms (%.1f%%), host side of device ops %.4f ms (%.1f%%), runtime %.4f ms "
	    "(%.1f%%)\n",
	    per_run(p, t.device) * 1e3, pct(t.device, t.wall), per_run(p, t.host_nodes) * 1e3,
	    pct(t.host_nodes, t.wall), per_run(p, t.host_around) * 1e3, pct(t.host_around, t.wall),
	    per_run(p, t.runtime) * 1e3, pct(t.runtime, t.wall));
	if (t.dev.jobs && t.dev.cycles) {
		fprintf(f,
		        "device cycles (%llu of %llu jobs): array busy %.1f%%, waiting on memory "
		        "%.1f%%, on a dependency %.1f%%, other (commands, fill, drain) %.1f%%\n",
		        (unsigned long long)t.dev.jobs, (unsigned long long)t.device_jobs,
		        pct((double)t.dev.busy, (double)t.dev.cycles),
		        pct((double)t.dev.stall_mem, (double)t.dev.cycles),
		        pct((double)t.dev.stall_dep, (double)t.dev.cycles),
		        pct((double)other_cycles(&t.dev), (double)t.dev.cycles));
	}
	if (t.dev.jobs)
		fprintf(
		    f,
		    "transfers per inference: %.0f bytes host to card, %.0f bytes card to host\n",
		    per_run(p, (double)t.dev.bytes_in), per_run(p, (double)t.dev.bytes_out));
	if (info->clock_mhz && p->total.cycles)
		fprintf(f,
		        "device time at %u MHz: %.2f us per inference (%.0f inferences/s if the "
		        "device alone set the pace)\n",
		        info->clock_mhz, per_run(p, (double)p->total.cycles) / info->clock_mhz,
		        1e6 * info->clock_mhz / per_run(p, (double)p->total.cycles));
}

static void breakdown_json(struct json *j, const struct profile *p,
                           const struct profile_breakdown *b)
{
	json_uint(j, "breakdown_jobs", b->jobs);
	json_double(j, "busy_cycles", per_run(p, (double)b->busy));
	json_double(j, "stall_mem_cycles", per_run(p, (double)b->stall_mem));
	json_double(j, "stall_dep_cycles", per_run(p, (double)b->stall_dep));
	json_double(j, "other_cycles", per_run(p, (double)other_cycles(b)));
	json_double(j, "host_bytes_in", per_run(p, (double)b->bytes_in));
	json_double(j, "host_bytes_out", per_run(p, (double)b->bytes_out));
}

void profile_json(const struct profile *p, const struct sampan_info *info, struct json *j)
{
	struct time_split t;

	time_split(p, &t);
	json_array_begin(j, "layers");
	for (int n = 0; n < p->model->n_nodes; n++) {
		const struct rt_node_stats *s = &p->nodes[n];
		const struct onnx_node *node = &p->model->nodes[n];

		json_object_begin(j, NULL);
		json_string(j, "node", node->name);
		json_string(j, "op", onnx_op_name(node->op));
		json_string(j, "on", s->gemms ? "device" : "host");
		json_double(j, "jobs", per_run(p, (double)s->gemms));
		json_double(j, "macs", per_run(p, (double)s->macs));
		json_double(j, "cycles", per_run(p, (double)s->cycles));
		json_double(j, "utilization", util(s->macs, s->cycles, info));
		json_double(j, "seconds", per_run(p, s->seconds));
		json_double(j, "device_seconds", per_run(p, s->device_seconds));
		json_double(j, "share", t.wall > 0 ? s->seconds / t.wall : 0);
		if (s->gemms)
			breakdown_json(j, p, &p->breakdown[n]);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_begin(j, "time");
	json_double(j, "wall_seconds", per_run(p, t.wall));
	json_double(j, "device_seconds", per_run(p, t.device));
	json_double(j, "host_op_seconds", per_run(p, t.host_nodes));
	json_double(j, "host_side_of_device_op_seconds", per_run(p, t.host_around));
	json_double(j, "runtime_seconds", per_run(p, t.runtime));
	json_uint(j, "device_jobs", t.device_jobs);
	breakdown_json(j, p, &t.dev);
	json_object_end(j);
}
