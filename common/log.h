/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for programs. Library code logs at debug level only and returns -errno; the
 * program that called it logs once. "%m" prints the error passed to *_errno(). */
#pragma once

#include <stdlib.h>
#include <syslog.h>

#include "common/macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Reads CASTLE_LOG_LEVEL (debug, info, notice, warning, err) if set. */
void log_parse_environment(void);
int log_level_from_string(const char *s);

/* An error made up here rather than returned by a call, as systemd writes it:
 *   return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "--format: '%s' is not text or json", f);
 * logs the message and returns -EINVAL; %m still prints the error's text. */
#define SYNTHETIC_ERRNO(num) (1 << 30 | (num))
#define ERRNO_VALUE(val) (abs(val) & ~(1 << 30))

#define log_oom() log_error_errno(SYNTHETIC_ERRNO(ENOMEM), "Out of memory.")

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                  \
        ({                                                                                 \
                int _l_ = (level), _e_ = ERRNO_VALUE(error);                               \
                log_get_max_level() >= _l_                                                 \
                        ? log_internal(_l_, _e_, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : -_e_;                                                            \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* For library calls that explain a failure to a person: replaces *error (if error is not
 * NULL) with the formatted message. */
void error_set(char **error, const char *format, ...) _printf_(2, 3);
