/*
 * ssim_util.cpp - error-message helpers of the simulation library.
 */
#include "ssim_util.h"

#include <cstdarg>

std::string ssim_format(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

std::string &ssim_global_error()
{
	static thread_local std::string msg;
	return msg;
}
