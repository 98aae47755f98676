/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fields of castle's own JSON records on disk, shared by the prepare and removal journals. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "osd-prep/jsonfield.h"

void jsonfield_add_string(json_object *o, const char *key, const char *v) {
        if (v)
                json_object_object_add(o, key, json_object_new_string(v));
}

int jsonfield_dup_string(json_object *o, const char *key, char **ret) {
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

bool jsonfield_get_bool(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
               json_object_get_boolean(v);
}

int64_t jsonfield_get_int64(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                                                               : 0;
}
