/*
 * simlib.h - where the simulated devices (`sim`, `sim-usb`) find their
 * Verilator library: one search, shared by backend_sim.c and
 * backend_simusb.c.
 */
#ifndef SAMPAN_SIMLIB_H
#define SAMPAN_SIMLIB_H

#include <stddef.h>

#ifndef SAMPAN_SIM_LIBDIR
#define SAMPAN_SIM_LIBDIR "/usr/local/lib/sampan"
#endif

/*
 * Finds the simulator library file @name. When $@env is set it is the only
 * candidate (a wrong one must not fall back silently to another build).
 * Otherwise, in order: @name in the directory of the file $@sibling_env
 * names (when @sibling_env is not NULL and that variable is set); @name
 * next to the code of libsampan (the shared library, or the executable a
 * static libsampan is linked into) as DIR/, DIR/../, DIR/../lib/sampan/ and
 * DIR/sampan/; then SAMPAN_SIM_LIBDIR. Returns 0 with the absolute path of
 * the first readable one in @path, or -1 with the candidates tried, comma
 * separated, in @tried.
 */
int drv_simlib_find(const char *name, const char *env, const char *sibling_env, char *path,
                    size_t path_len, char *tried, size_t tried_len);

#endif /* SAMPAN_SIMLIB_H */
