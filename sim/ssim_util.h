/*
 * ssim_util.h - helpers shared by the C++ files of the simulation library:
 * symbol export, error capture at the C ABI boundary, and bit-field access
 * to Verilated ports of any width.
 */
#ifndef SSIM_UTIL_H
#define SSIM_UTIL_H

#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "verilated.h"

/* Everything is compiled with -fvisibility=hidden; only the ABI is exported. */
#define SSIM_EXPORT extern "C" __attribute__((visibility("default")))

/* Thrown inside the library for any failure; the ABI wrapper turns it into
 * a negative return value and a message. */
struct ssim_failure : std::runtime_error {
	using std::runtime_error::runtime_error;
};

/* printf-style message to std::string. */
__attribute__((format(printf, 1, 2))) std::string ssim_format(const char *fmt, ...);

/* Message of the last failure that had no handle to hold it (create). */
std::string &ssim_global_error();

/* Runs @fn (a callable returning int); exceptions become -1 and a message in
 * @err. Every ABI entry point goes through this, so no C++ exception ever
 * crosses into C. */
template <class F> int ssim_guard(std::string &err, F fn)
{
	try {
		return fn();
	} catch (const std::bad_alloc &) {
		err = "out of host memory";
	} catch (const std::exception &e) {
		err = e.what();
	} catch (...) {
		err = "unknown C++ exception";
	}
	return -1;
}

/* ------------------------------------------------- Verilated port access */

/* Ports up to 64 bits are integers, wider ones VlWide<N> (32-bit words,
 * word 0 = bits 31:0). These read and write a field of up to 32 bits. */
static inline void ssim_put_bits(uint32_t *words, unsigned lsb, unsigned width, uint32_t v)
{
	for (unsigned i = 0; i < width; i++) {
		unsigned bit = lsb + i;
		uint32_t mask = 1u << (bit % 32);
		if ((v >> i) & 1u)
			words[bit / 32] |= mask;
		else
			words[bit / 32] &= ~mask;
	}
}

static inline uint32_t ssim_get_bits(const uint32_t *words, unsigned lsb, unsigned width)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < width; i++) {
		unsigned bit = lsb + i;
		v |= ((words[bit / 32] >> (bit % 32)) & 1u) << i;
	}
	return v;
}

template <std::size_t N>
void ssim_set_field(VlWide<N> &sig, unsigned lsb, unsigned width, uint32_t v)
{
	ssim_put_bits(sig.data(), lsb, width, v);
}

template <std::size_t N> uint32_t ssim_field(const VlWide<N> &sig, unsigned lsb, unsigned width)
{
	return ssim_get_bits(sig.data(), lsb, width);
}

template <class T>
typename std::enable_if<std::is_integral<T>::value>::type ssim_set_field(T &sig, unsigned lsb,
                                                                         unsigned width, uint32_t v)
{
	uint64_t s = sig;
	uint32_t w[2] = {(uint32_t)s, (uint32_t)(s >> 32)};
	ssim_put_bits(w, lsb, width, v);
	sig = (T)(w[0] | (uint64_t)w[1] << 32);
}

template <class T>
typename std::enable_if<std::is_integral<T>::value, uint32_t>::type
ssim_field(const T &sig, unsigned lsb, unsigned width)
{
	uint64_t s = sig;
	uint32_t w[2] = {(uint32_t)s, (uint32_t)(s >> 32)};
	return ssim_get_bits(w, lsb, width);
}

/* Sign-extends the low @bits bits of @v. */
static inline int32_t ssim_sext(uint32_t v, unsigned bits)
{
	uint32_t m = 1u << (bits - 1);
	v &= (bits == 32) ? 0xFFFFFFFFu : ((1u << bits) - 1);
	return (int32_t)((v ^ m) - m);
}

#endif /* SSIM_UTIL_H */
