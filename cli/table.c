/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text tables. Cells are escaped as they are added: they carry text from agents and disks,
 * which must not move the cursor or clear the screen, and widths count what is printed. */
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "common/escape.h"
#include "common/macro.h"

struct Table {
        size_t n_columns, n_rows;
        char **cells;           /* n_rows * n_columns, row-major */
        const char *const *headers;
};

Table *table_new(const char *const *headers, size_t n_columns) {
        Table *t = calloc(1, sizeof(Table));

        if (!t)
                return NULL;
        t->headers = headers;
        t->n_columns = n_columns;
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

int table_add_row(Table *t, const char *const *cells) {
        char **c = reallocarray(t->cells, (t->n_rows + 1) * t->n_columns, sizeof(char *));

        if (!c)
                return -ENOMEM;
        t->cells = c;
        c += t->n_rows * t->n_columns;
        for (size_t i = 0; i < t->n_columns; i++) {
                c[i] = strdup_escaped(cells[i] ?: "-");
                if (!c[i]) {
                        while (i > 0)
                                free(c[--i]);
                        return -ENOMEM;
                }
        }
        t->n_rows++;
        return 0;
}

static void print_row(const Table *t, FILE *f, const char *const *row, const size_t *width) {
        for (size_t c = 0; c + 1 < t->n_columns; c++)
                fprintf(f, "%-*s  ", (int) width[c], row[c]);
        fprintf(f, "%s\n", row[t->n_columns - 1]);
}

void table_print(const Table *t, FILE *f, bool headings) {
        size_t width[t->n_columns];

        for (size_t c = 0; c < t->n_columns; c++) {
                width[c] = headings ? strlen(t->headers[c]) : 0;
                for (size_t r = 0; r < t->n_rows; r++)
                        width[c] = MAX(width[c], strlen(t->cells[r * t->n_columns + c]));
        }
        if (headings)
                print_row(t, f, t->headers, width);
        for (size_t r = 0; r < t->n_rows; r++)
                print_row(t, f, (const char *const *) &t->cells[r * t->n_columns], width);
}
