// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder: file rotation for pcap outputs, being written. */
#include "rotate.h"
