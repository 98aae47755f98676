/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every cmocka test program includes. cmocka needs these headers first. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/macro.h"

/* Test data lives in the source tree; tests may run from a separate build tree. */
#define TEST_DATA_DIR CASTLE_SRCDIR "/tests/data"
