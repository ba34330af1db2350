/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Placeholder: file rotation for pcap outputs (-C, -G, -W), being written. */
#ifndef HDRLOG_ROTATE_H
#define HDRLOG_ROTATE_H
#endif
