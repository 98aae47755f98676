/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fields of castle's own JSON records on disk (the prepare and removal journals): a
 * string written only when set; read back, an absent or null field is NULL (0, false) and a
 * field of another type makes the record invalid. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Adds key: v, or nothing when v is NULL. */
void jsonfield_add_string(json_object *o, const char *key, const char *v);
/* *ret: a copy of the string at key, or NULL when absent or null. -EBADMSG: not a string. */
int jsonfield_dup_string(json_object *o, const char *key, char **ret);
/* The boolean at key; false when absent or of another type. */
bool jsonfield_get_bool(json_object *o, const char *key);
/* The integer at key; 0 when absent or of another type. */
int64_t jsonfield_get_int64(json_object *o, const char *key);
