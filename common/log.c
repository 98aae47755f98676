/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr with a program prefix; the daemons will add journald later. A line is
 * formatted whole and then escaped, so that nothing it quotes (a peer's hostname, a disk's
 * label, a helper's stderr) can start a line of its own or reach a terminal as a control. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/escape.h"
#include "common/log.h"

static int max_level = LOG_NOTICE;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "err",       [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
};

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

void log_parse_environment(void) {
        const char *e = getenv("CASTLE_LOG_LEVEL");
        int l;

        if (!e)
                return;
        l = log_level_from_string(e);
        if (l >= 0)
                max_level = l;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        int saved = errno, n;
        char buf[2048], *heap = NULL;
        const char *text = buf;
        va_list ap;

        /* %m prints the error we were given, not whatever errno happens to hold. */
        errno = abs(error);
        va_start(ap, format);
        n = vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        if (n < 0)
                text = format;
        else if ((size_t) n >= sizeof buf) {
                errno = abs(error);
                va_start(ap, format);
                if (vasprintf(&heap, format, ap) >= 0)
                        text = heap;
                else
                        heap = NULL; /* buf holds the line, cut */
                va_end(ap);
        }

        flockfile(stderr);
        if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s[%s:%d %s]: ", program_invocation_short_name, file, line, func);
        else
                fprintf(stderr, "%s: ", program_invocation_short_name);
        if (level == LOG_WARNING)
                fputs("warning: ", stderr);
        fputs_escaped(text, stderr);
        fputc('\n', stderr);
        funlockfile(stderr);
        free(heap);
        errno = saved;
        return -abs(error);
}

void error_set(char **error, const char *format, ...) {
        va_list ap;
        char *s = NULL;

        if (!error)
                return;
        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*error);
        *error = s;
}
