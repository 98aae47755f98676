/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's auto-prepare policy: the filters that pick devices for an OSD as they appear,
 * and the record of devices already tried in this run, so a failure is never retried in a loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/regexcheck.h"
#include "common/strv.h"

static void clear_filters(Policy *p) {
        if (p->has_name)
                regfree(&p->name);
        if (p->has_path)
                regfree(&p->path);
        p->has_name = p->has_path = false;
        p->crush_class = mfree(p->crush_class);
}

void policy_done(Policy *p) {
        clear_filters(p);
        p->tried = strv_free(p->tried);
        p->auto_prepare = false;
}

/* The pattern came from the network: it is not echoed unless it passed the checker (short, no
 * control characters) and only regcomp() found it wrong. */
static int compile(regex_t *re, const char *what, const char *pattern, char **error) {
        _cleanup_free_ char *why = NULL;
        int r;

        r = regex_check(pattern, &why);
        if (r < 0) {
                error_set(error, "%s refused: %s", what, strempty(why));
                return r;
        }
        r = regex_compile(re, pattern, &why);
        if (r < 0)
                error_set(error, "%s '%s': %s", what, pattern, strempty(why));
        return r;
}

int policy_set(Policy *p, bool auto_prepare, const char *name_filter, const char *path_filter,
               const char *crush_class, char **error) {
        Policy n = { .auto_prepare = auto_prepare };
        int r;

        if (!isempty(name_filter)) {
                r = compile(&n.name, "auto-prepare-filter", name_filter, error);
                if (r < 0)
                        return r;
                n.has_name = true;
        }
        if (!isempty(path_filter)) {
                r = compile(&n.path, "auto-prepare-path-filter", path_filter, error);
                if (r < 0) {
                        clear_filters(&n);
                        return r;
                }
                n.has_path = true;
        }
        if (!isempty(crush_class) && !(n.crush_class = strdup(crush_class))) {
                clear_filters(&n);
                return -ENOMEM;
        }
        clear_filters(p);
        n.tried = TAKE_PTR(p->tried); /* a new policy does not retry what the old one tried */
        *p = n;
        return 0;
}

static bool path_matches(const Policy *p, const Castle__Device *d) {
        if (!p->has_path)
                return true;
        if (d->path && regexec(&p->path, d->path, 0, NULL, 0) == 0)
                return true;
        for (size_t i = 0; i < d->n_links; i++)
                if (regexec(&p->path, d->links[i], 0, NULL, 0) == 0)
                        return true;
        return false;
}

bool policy_take(Policy *p, const Castle__Device *d) {
        if (!p->auto_prepare || !d->available || isempty(d->stable_id))
                return false;
        if (p->has_name && regexec(&p->name, d->kname, 0, NULL, 0) != 0)
                return false;
        if (!path_matches(p, d) || strv_contains(p->tried, d->stable_id))
                return false;
        return strv_extend(&p->tried, d->stable_id) >= 0;
}
