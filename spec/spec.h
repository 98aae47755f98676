/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cephadm's OSD service specs ("drive groups") read from YAML with libyaml: one document or a
 * stream of several, each checked whole. castle supports the keys listed in OsdSpec
 * (proto/castle.proto); any other key, a value of the wrong kind, a size or pattern that does
 * not parse, or a spec cephadm itself would reject is an error that names the spec, the key
 * and the line. */
#pragma once

#include <stddef.h>

#include "proto/castle.pb-c.h"

/* The most a YAML stream may hold: bytes, documents. */
#define SPEC_YAML_MAX (256u * 1024u)
#define SPEC_DOCUMENTS_MAX 64u

typedef struct SpecList {
        Castle__OsdSpec **specs;        /* each with yaml set to its document's text */
        size_t n;
} SpecList;

void spec_list_done(SpecList *l);

/* Parses and validates every document of yaml (size bytes, need not end in NUL). On failure
 * returns -errno (EINVAL for a bad spec, E2BIG past the bounds above) and sets *error to
 * "spec NAME: KEY (line N): what is wrong"; nothing is returned then. Two documents with the
 * same service_id are an error. */
int spec_parse(const char *yaml, size_t size, SpecList *ret, char **error);

/* Frees a spec made by spec_parse() or unpacked from the wire (protobuf-c's own free). */
void spec_free(Castle__OsdSpec *s);
