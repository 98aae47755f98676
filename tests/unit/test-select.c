/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests/unit/testutil.h"
int main(void) { return 0; }
