/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SHA-1 (FIPS 180-4), for Community ID only: not for security. */
#ifndef HDRLOG_SHA1_H
#define HDRLOG_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_SIZE 20

void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_SIZE]);

#endif
