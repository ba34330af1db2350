/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Telling a service manager how the run goes (sd_notify(3)): READY=1,
 * RELOADING=1, STOPPING=1, STATUS= and the watchdog. Without
 * NOTIFY_SOCKET in the environment every call does nothing.
 */
#ifndef HDRLOG_SERVICE_H
#define HDRLOG_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct service {
	bool notify;		/* NOTIFY_SOCKET was set */
	uint64_t watchdog_ns;	/* feed this often: WATCHDOG_USEC / 2; 0 none */
	uint64_t watchdog_due;	/* clock_mono_ns() of the next WATCHDOG=1 */
	uint64_t status_due;	/* of the next STATUS= */
};

void service_init(struct service *s);
void service_ready(struct service *s, const char *status);
void service_reloading(struct service *s);
void service_stopping(struct service *s);
/*
 * From the main loop, every turn: feeds the watchdog when due (so a
 * stuck loop stops feeding it), and says whether a new STATUS= is due.
 */
bool service_tick(struct service *s);
void service_status(struct service *s, const char *status);

#endif
