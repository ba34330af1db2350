/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SHA-1 (FIPS 180-4), for Community ID only: not for security. */
#ifndef HDRLOG_SHA1_H
#define HDRLOG_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_SIZE 20

void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_SIZE]);

/*
 * The block function sha1() uses: by default SHA-NI where the CPU has it,
 * else the portable one. Choosing is for the unit tests, which check both.
 * Returns 0, or -1 when this build or CPU has no such one (unchanged).
 */
enum sha1_impl {
	SHA1_PORTABLE,
	SHA1_SHANI,	/* x86 SHA extensions */
};
int sha1_use(enum sha1_impl impl);

#endif
