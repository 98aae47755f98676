/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Configuration as one table: each option has a name, a type, a default, a range and a help
 * text. The same table drives the INI parser, the command-line overrides and --help, so they
 * can never disagree. Errors are reported as "file:line: message". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ConfType {
        CONF_STRING,    /* char *: owned, freed by conf_free_values() */
        CONF_BOOL,      /* bool: yes/no, true/false, on/off, 1/0 */
        CONF_UINT,      /* uint64_t within [min, max] */
        CONF_DURATION,  /* uint64_t microseconds; "250ms", "5s", "10min", "1h"; bare number = seconds;
                         * at most CONF_DURATION_MAX */
        CONF_SIZE,      /* uint64_t bytes; K, M, G, T suffixes (powers of 1024) */
        CONF_STRV,      /* char **: a list, separated by blanks or commas; owned */
        CONF_LISTEN,    /* char *: "", "PORT" (127.0.0.1), "ADDR:PORT" or "[IPV6]:PORT"; "off" = ""; owned */
        CONF_ENUM,      /* int: the index of the value in choices */
        CONF_REGEX,     /* char *: an extended regular expression, compiled at load to check it; owned */
} ConfType;

typedef struct ConfOption {
        const char *section;    /* INI section, e.g. "agent" */
        const char *name;       /* key within the section; also the long option --name */
        ConfType type;
        const char *def;        /* default, as it would be written in the file; NULL = unset */
        uint64_t min, max;      /* for UINT, DURATION, SIZE; max 0 = no upper bound */
        size_t offset;          /* where the value lives in the caller's struct */
        const char *help;       /* one line for --help and the config reference */
        const char *const *choices; /* ENUM: the names, NULL-terminated, in the enum's order */
} ConfOption;

/* yes/no, true/false, on/off, 1/0: the one parser of booleans, for the CLI too. */
int conf_parse_bool(const char *s, bool *ret);
/* The longest duration anything takes: 100 years, so that adding one to a timestamp in
 * int64_t microseconds can never overflow. */
#define CONF_DURATION_MAX (UINT64_C(36500) * UINT64_C(86400000000))

/* "1min30s", "250ms", "1.5" (a bare number is seconds) into microseconds; the one parser of
 * durations, for the CLI too. -EINVAL if it does not parse, -ERANGE above CONF_DURATION_MAX
 * (the parts added up). */
int conf_parse_duration(const char *s, uint64_t *ret_usec);
/* The shortest exact form: "10min", "250ms", "1500us". */
void conf_format_duration(uint64_t usec, char *buf, size_t len);

/* Sets every option of the table to its default. */
int conf_set_defaults(const ConfOption *table, size_t n, void *values);
/* Parses an INI file into values. Unknown sections or keys, bad values and out-of-range
 * numbers are errors; each is printed to err as "path:line: message" (all of them, not only
 * the first). Returns -ENOENT if the file does not exist, -EINVAL if it had errors. */
int conf_parse_file(const ConfOption *table, size_t n, const char *path, void *values, FILE *err);
/* The same for text in memory (path only names it in messages). */
int conf_parse_text(const ConfOption *table, size_t n, const char *path, const char *text, void *values,
                    FILE *err);
/* Sets one option by name ("section.name" or just "name" if unique) from a string, as a
 * command-line flag would. ret_error (to free) says what is wrong. */
int conf_set(const ConfOption *table, size_t n, const char *name, const char *value, void *values,
             char **ret_error);
const ConfOption *conf_find(const ConfOption *table, size_t n, const char *name);
/* Frees the strings and lists of values. */
void conf_free_values(const ConfOption *table, size_t n, void *values);
/* Prints the options as a table: name, type, default, range, help (for --help and docs). */
void conf_print_help(const ConfOption *table, size_t n, FILE *f);
/* Prints the current values as an INI file (for --check-config --dump). */
void conf_print_values(const ConfOption *table, size_t n, const void *values, FILE *f);
