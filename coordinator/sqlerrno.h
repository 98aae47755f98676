/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite result codes to -errno, for the coordinator's connections (store.c, intent.c). */
#pragma once

#include <errno.h>
#include <sqlite3.h>

static inline int sql_error(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -EACCES;
        case SQLITE_READONLY:
        case SQLITE_PERM:
                return -EROFS;
        default:
                return -EIO;
        }
}
