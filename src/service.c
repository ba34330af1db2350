// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "log.h"
#include "service.h"

#define STATUS_EVERY_NS	5000000000ull

void service_init(struct service *s)
{
	uint64_t usec = 0;

	*s = (struct service){ .notify = getenv("NOTIFY_SOCKET") != NULL };
	/*
	 * Feed at half the timeout, as sd_watchdog_enabled(3) advises; the
	 * loop turns at least every 50 ms (POLL_MS), traffic or not.
	 */
	if (s->notify && sd_watchdog_enabled(0, &usec) > 0 && usec)
		s->watchdog_ns = usec * 1000 / 2;
}

static void say(const struct service *s, const char *state)
{
	int err;

	if (!s->notify)
		return;
	err = sd_notify(0, state);
	if (err < 0)
		pr_debug("sd_notify: %s", strerror(-err));
}

void service_status(struct service *s, const char *status)
{
	if (!s->notify)
		return;
	sd_notifyf(0, "STATUS=%s", status);
	s->status_due = clock_mono_ns() + STATUS_EVERY_NS;
}

void service_ready(struct service *s, const char *status)
{
	if (!s->notify)
		return;
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	s->status_due = clock_mono_ns() + STATUS_EVERY_NS;
	s->watchdog_due = clock_mono_ns();
}

/* MONOTONIC_USEC: what Type=notify-reload needs to tell reloads apart. */
void service_reloading(struct service *s)
{
	if (!s->notify)
		return;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		   (unsigned long long)(clock_mono_ns() / 1000));
}

void service_stopping(struct service *s)
{
	say(s, "STOPPING=1\nSTATUS=stopping");
}

bool service_tick(struct service *s)
{
	uint64_t now;

	if (!s->notify)
		return false;
	now = clock_mono_ns();
	if (s->watchdog_ns && now >= s->watchdog_due) {
		say(s, "WATCHDOG=1");
		s->watchdog_due = now + s->watchdog_ns;
	}
	return now >= s->status_due;
}
