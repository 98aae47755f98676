/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sd_notify(3) without libsystemd: a datagram to $NOTIFY_SOCKET. A no-op outside systemd. */
#pragma once

#include <stdint.h>

int notify_send(const char *state);
/* The watchdog interval systemd asked for ($WATCHDOG_USEC), or 0. */
uint64_t notify_watchdog_usec(void);
