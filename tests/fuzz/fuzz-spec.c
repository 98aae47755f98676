/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OSD spec parser (spec/spec.c) on any bytes: a stream it takes must pack, and come back
 * through the codec's walk as the specs an agent is sent, with each spec's YAML whole. */
#include <errno.h>
#include <string.h>

#include "proto/codec.h"
#include "spec/spec.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_quiet();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(spec_list_done) SpecList l = {};
        _cleanup_free_ char *error = NULL;
        int r;

        r = spec_parse((const char *) data, size, &l, &error);
        if (r < 0) {
                fuzz_require(error || r == -ENOMEM);
                return 0;
        }
        fuzz_require(l.n > 0 && !error);
        for (size_t i = 0; i < l.n; i++) {
                Castle__SpecSet set = CASTLE__SPEC_SET__INIT;
                Castle__SpecSet *back = NULL;
                _cleanup_free_ uint8_t *b = NULL;
                size_t n;

                set.specs = &l.specs[i];
                set.n_specs = 1;
                fuzz_require(codec_pack(&set.base, &b, &n) >= 0);
                back = castle__spec_set__unpack(NULL, n, b);
                fuzz_require(back && back->n_specs == 1 && strcmp(back->specs[0]->yaml, l.specs[i]->yaml) == 0);
                castle__spec_set__free_unpacked(back, NULL);
        }
        return 0;
}
