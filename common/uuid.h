/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Random UUIDs for new OSDs, volume groups and volumes, from the kernel's generator. */
#pragma once

#define UUID_STRING_LEN 36

/* A new random (version 4) UUID as 36 lowercase characters, e.g. for an OSD's fsid. */
int uuid_random(char **ret);
