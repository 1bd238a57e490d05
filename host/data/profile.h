/*
 * profile.h - per-layer figures of model runs (`sampan run --profile`,
 * `sampan eval`): for every node, where it ran (device or host), its device
 * jobs, MACs, cycles, utilization and wall time, summed over runs; for the
 * device jobs also the device's own breakdown of its cycles (array busy,
 * stalled on memory or on a dependency) and the bytes moved between host
 * and card; and where the wall time of a run goes.
 */
#ifndef SAMPAN_HOST_DATA_PROFILE_H
#define SAMPAN_HOST_DATA_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "onnx/onnx_model.h"
#include "runtime/runtime.h"
#include "sampan.h"

struct json;

/* The device's breakdown of a node's jobs, summed. */
struct profile_breakdown {
	uint64_t jobs; /* jobs whose statistics are summed here */
	uint64_t cycles, busy, stall_mem, stall_dep;
	uint64_t bytes_in, bytes_out; /* host -> card, card -> host */
};

/* Figures of the runs of one model on one device. */
struct profile {
	const struct onnx_model *model;
	struct sampan_device *dev;
	struct rt_node_stats *nodes;         /* (n_nodes), filled by the runtime */
	struct profile_breakdown *breakdown; /* (n_nodes) */
	uint64_t *seen_gemms;                /* (n_nodes) jobs already looked at */
	uint64_t runs;
	struct rt_stats total; /* the runs' figures, summed */
};

/* Creates an empty profile of @model on @dev (both borrowed). Returns a
 * sampan_error. */
int profile_create(const struct onnx_model *model, struct sampan_device *dev, struct profile **p);

/* NULL is a no-op. */
void profile_destroy(struct profile *p);

/* Fills @h so that rt_run_ex with it adds a run's per-node figures to @p. */
void profile_hooks(struct profile *p, struct rt_hooks *h);

/* Adds the totals of one successful run (rt_run_ex's @stats). */
void profile_add_run(struct profile *p, const struct rt_stats *st);

/* Prints the per-layer table, per run, and where the time went, to @f. */
void profile_print(const struct profile *p, const struct sampan_info *info, FILE *f);

/* Writes "layers" (an array, per run) and "time" (where the time went) as
 * members of the current JSON object. */
void profile_json(const struct profile *p, const struct sampan_info *info, struct json *j);

#endif /* SAMPAN_HOST_DATA_PROFILE_H */
