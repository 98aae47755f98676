/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's OSD jobs: a queue of castlectl-osd runs, one at a time, each a bounded spawn
 * (common/spawn.h) watched from the agent's zloop, whose JSON progress lines become JobUpdate
 * messages. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "agent/jobs.h"
#include "osd-prep/batch.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/macro.h"
#include "common/strv.h"
#include "common/timeutil.h"

#define LINE_MAX_BYTES 65536
#define MAX_QUEUED 256
/* A job that runs longer than this is killed (its process group) and reported failed, so
 * that a helper stuck outside every deadline of its own (a monitor that stops answering, a
 * disk that hangs) cannot block the queue for good. Generous: a prepare of one OSD on a slow
 * disk may take minutes, and its own steps are bounded already (ceph-osd --mkfs by 10 min,
 * the wait for the OSD to come up by 2 min). */
#define JOB_TIMEOUT_USEC (30 * 60 * USEC_PER_SEC)

typedef struct Job {
        uint64_t command_id;
        char **argv;
} Job;

struct JobRunner {
        zloop_t *loop;
        char *helper;
        JobUpdateFn cb;
        void *userdata;
        Job queue[MAX_QUEUED];
        size_t n_queued;
        /* the running job */
        bool running;
        Job current;
        Spawn *spawn;
        int timer_id;           /* -1: none */
        uint64_t wakeup;        /* when the timer fires */
        char buf[LINE_MAX_BYTES];
        size_t n_buf;
        bool finished;          /* its result line arrived */
        uint64_t timeout_usec;  /* each job's deadline */
};

static void start_next(JobRunner *jr);

static const char *get_str(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static int get_int(json_object *o, const char *key, int def) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int(v) : def;
}

static bool get_bool(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void emit_done(JobRunner *jr, const char *error, int osd_id, const char *device, const char *uuid, bool already,
                      const char *message) {
        Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;

        u.command_id = jr->current.command_id;
        u.step = (char *) "done";
        u.percent = 100;
        u.done = true;
        u.error = (char *) error;
        u.osd_id = osd_id;
        u.device = (char *) device;
        u.osd_uuid = (char *) uuid;
        u.already_prepared = already;
        u.message = (char *) message;
        jr->finished = true;
        jr->cb(&u, jr->userdata);
}

/* Where a finished job's time went, from its result's "steps" (name, usec): one log line, so
 * that a slow prepare says which step was slow. */
static void log_steps(const JobRunner *jr, json_object *result) {
        char buf[512];
        size_t n = 0;
        json_object *steps;

        if (!json_object_object_get_ex(result, "steps", &steps) || !json_object_is_type(steps, json_type_array))
                return;
        buf[0] = 0;
        for (size_t i = 0; i < json_object_array_length(steps) && n < sizeof buf; i++) {
                json_object *s = json_object_array_get_idx(steps, i), *usec;
                const char *name = get_str(s, "name");

                if (!name || !json_object_object_get_ex(s, "usec", &usec))
                        continue;
                n += (size_t) snprintf(buf + n, sizeof buf - n, "%s%s %.1f ms", n > 0 ? ", " : "", name,
                                       (double) json_object_get_int64(usec) / 1000.0);
        }
        if (buf[0])
                log_info("Job %" PRIu64 ": steps: %s.", jr->current.command_id, buf);
}

static void handle_line(JobRunner *jr, const char *line) {
        json_object *o = json_tokener_parse(line);

        if (!o || !json_object_is_type(o, json_type_object)) {
                log_debug("Job output that is not JSON: %s", line);
                json_object_put(o);
                return;
        }
        /* The last line is the result object (its "result" says whether it succeeded); the
         * lines before it are progress. */
        if (json_object_object_get_ex(o, "result", NULL)) {
                const char *error = get_str(o, "error");
                log_steps(jr, o);
                emit_done(jr, error, error ? -1 : get_int(o, "osd_id", -1), get_str(o, "device"),
                          get_str(o, "osd_uuid"), get_bool(o, "already_prepared"), get_str(o, "message"));
        } else if (get_str(o, "step")) {
                Castle__JobUpdate u = CASTLE__JOB_UPDATE__INIT;
                u.command_id = jr->current.command_id;
                u.step = (char *) get_str(o, "step");
                u.percent = (uint32_t) get_int(o, "percent", 0);
                u.message = (char *) get_str(o, "message");
                u.osd_id = -1;
                jr->cb(&u, jr->userdata);
        }
        json_object_put(o);
}

static void watch_end(JobRunner *jr) {
        zmq_pollitem_t item;

        if (!jr->spawn)
                return;
        item = (zmq_pollitem_t) { .fd = spawn_get_fd(jr->spawn), .events = ZMQ_POLLIN };
        zloop_poller_end(jr->loop, &item);
        if (jr->timer_id >= 0)
                zloop_timer_end(jr->loop, jr->timer_id);
        jr->timer_id = -1;
}

static void finish(JobRunner *jr) {
        watch_end(jr);
        if (!jr->finished) {
                SpawnResult res = {};
                char why[128];
                int r = spawn_finish(jr->spawn, &res);

                if (r == -ETIMEDOUT)
                        snprintf(why, sizeof why,
                                 "the helper did not finish within %u minutes and was killed",
                                 (unsigned) (jr->timeout_usec / USEC_PER_SEC / 60));
                else if (r < 0)
                        snprintf(why, sizeof why, "the helper failed: %s", strerror(-r));
                else if (res.signal > 0)
                        snprintf(why, sizeof why, "the helper ended without a result (signal %d)",
                                 res.signal);
                else
                        snprintf(why, sizeof why, "the helper ended without a result (exit status %d)",
                                 res.status);
                spawn_result_done(&res);
                emit_done(jr, why, -1, NULL, NULL, false, NULL);
        }
        /* The result is the last line: the helper is done even if it has not exited yet (or
         * a daemon it started still holds the pipe open); it is reaped later. */
        jr->spawn = spawn_free(jr->spawn);
        strv_free(jr->current.argv);
        jr->current = (Job) {};
        jr->running = false;
        start_next(jr);
}

static void on_output(const char *p, size_t n, void *userdata) {
        JobRunner *jr = userdata;

        while (n > 0) {
                size_t k = MIN(n, sizeof jr->buf - 1 - jr->n_buf);

                memcpy(jr->buf + jr->n_buf, p, k);
                jr->n_buf += k;
                jr->buf[jr->n_buf] = 0;
                p += k;
                n -= k;
                for (char *nl; (nl = memchr(jr->buf, '\n', jr->n_buf));) {
                        *nl = 0;
                        handle_line(jr, jr->buf);
                        jr->n_buf -= (size_t) (nl + 1 - jr->buf);
                        memmove(jr->buf, nl + 1, jr->n_buf);
                }
                if (jr->n_buf == sizeof jr->buf - 1)
                        jr->n_buf = 0; /* a line that long is not ours: drop it */
        }
}

static int on_timer(zloop_t *loop, int timer_id, void *arg);

/* Reads the job's output, reaps it once it exited, kills it at its deadline. */
static void process(JobRunner *jr) {
        uint64_t wakeup, now;
        size_t delay_msec;

        if (spawn_process(jr->spawn) == 0 || jr->finished) {
                finish(jr);
                return;
        }
        wakeup = spawn_get_wakeup_usec(jr->spawn);
        if (jr->timer_id >= 0 && wakeup == jr->wakeup)
                return;
        if (jr->timer_id >= 0)
                zloop_timer_end(jr->loop, jr->timer_id);
        now = now_usec();
        jr->wakeup = wakeup;
        delay_msec = wakeup > now ? (size_t) ((wakeup - now + 999) / 1000) : 1;
        jr->timer_id = zloop_timer(jr->loop, delay_msec, 1, on_timer, jr);
}

static int on_timer(zloop_t *loop, int timer_id, void *arg) {
        JobRunner *jr = arg;

        jr->timer_id = -1; /* a timer that fires once is gone after this */
        process(jr);
        return 0;
}

static int on_ready(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
        process(arg);
        return 0;
}

static void start_next(JobRunner *jr) {
        const SpawnOptions so = {
                .timeout_usec = jr->timeout_usec,
                .path = jr->helper,
                .pass_stderr = true,
                .on_output = on_output,
                .userdata = jr,
        };
        zmq_pollitem_t item;
        int r;

        if (jr->running || jr->n_queued == 0)
                return;
        jr->current = jr->queue[0];
        memmove(jr->queue, jr->queue + 1, --jr->n_queued * sizeof(Job));
        jr->running = true;
        jr->finished = false;
        jr->n_buf = 0;

        r = spawn_start(jr->current.argv, NULL, &so, &jr->spawn);
        if (r < 0) {
                char why[256];
                snprintf(why, sizeof why, "cannot run %s: %s", jr->helper, strerror(-r));
                emit_done(jr, why, -1, NULL, NULL, false, NULL);
                strv_free(jr->current.argv);
                jr->current = (Job) {};
                jr->running = false;
                start_next(jr);
                return;
        }
        item = (zmq_pollitem_t) { .fd = spawn_get_fd(jr->spawn), .events = ZMQ_POLLIN };
        zloop_poller(jr->loop, &item, on_ready, jr);
        log_info("Job %" PRIu64 ": running %s %s %s.", jr->current.command_id, jr->helper,
                 strempty(jr->current.argv[1]), strempty(jr->current.argv[2]));
        process(jr); /* arms the timer for the deadline */
}

JobRunner *job_runner_new(zloop_t *loop, const char *helper, JobUpdateFn cb, void *userdata) {
        JobRunner *jr = calloc(1, sizeof *jr);

        if (!jr)
                return NULL;
        *jr = (JobRunner) {
                .loop = loop, .helper = strdup(helper), .cb = cb, .userdata = userdata, .timer_id = -1,
                .timeout_usec = JOB_TIMEOUT_USEC,
        };
        if (!jr->helper) {
                free(jr);
                return NULL;
        }
        return jr;
}

JobRunner *job_runner_free(JobRunner *jr) {
        if (!jr)
                return NULL;
        /* A running prepare is left to finish (within its deadline): its journal makes it safe
         * either way. */
        watch_end(jr);
        jr->spawn = spawn_free(jr->spawn);
        strv_free(jr->current.argv);
        for (size_t i = 0; i < jr->n_queued; i++)
                strv_free(jr->queue[i].argv);
        free(jr->helper);
        free(jr);
        return NULL;
}

int job_runner_submit(JobRunner *jr, uint64_t command_id, char *const *args) {
        char **argv = NULL;

        if (jr->n_queued >= MAX_QUEUED)
                return -EBUSY;
        if (strv_extend(&argv, "castlectl-osd") < 0)
                return -ENOMEM;
        STRV_FOREACH(a, args)
                if (strv_extend(&argv, *a) < 0) {
                        strv_free(argv);
                        return -ENOMEM;
                }
        jr->queue[jr->n_queued++] = (Job) { .command_id = command_id, .argv = argv };
        start_next(jr);
        return 0;
}

void job_runner_set_timeout(JobRunner *jr, uint64_t usec) {
        jr->timeout_usec = usec;
}

size_t job_runner_pending(const JobRunner *jr) {
        return jr->n_queued + (jr->running ? 1 : 0);
}

/* ---- what the agent asks castlectl-osd to do ---- */

/* Appends printf(fmt, value) to *args; once r < 0 it stays so. */
#define ARG(fmt, value) STRV_APPENDF(r, args, fmt, value)

/* The agent's [osd] options, which every prepare, batch and zap gets. */
static int common_args(const JobPrepareOptions *o, bool prep, char ***pargs) {
        char **args = *pargs;
        int r = 0;

        if (prep) {
                ARG("--progress=%s", "json");
                ARG("--start-mode=%s", o->start_mode);
        }
        ARG("--cluster=%s", o->cluster);
        if (!isempty(o->ceph_conf))
                ARG("--conf=%s", o->ceph_conf);
        if (!isempty(o->keyring))
                ARG("--keyring=%s", o->keyring);
        if (!isempty(o->osd_root))
                ARG("--osd-root=%s", o->osd_root);
        if (!isempty(o->state_dir))
                ARG("--state-dir=%s", o->state_dir);
        if (o->allow_loop)
                ARG("%s", "--allow-loop");
        *pargs = args;
        return r;
}

int job_prepare_args(const JobPrepareOptions *o, const char *device, bool dry_run, const char *crush_class,
                     char ***ret) {
        _cleanup_strv_free_ char **args = NULL;
        int r = 0;

        ARG("%s", "osd");
        ARG("%s", "prepare");
        ARG("--data=%s", device);
        if (r >= 0)
                r = common_args(o, true, &args);
        if (!isempty(crush_class))
                ARG("--crush-device-class=%s", crush_class);
        if (dry_run)
                ARG("%s", "--dry-run");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(args);
        return 0;
}

/* A device name from the network: a stable id or a /dev path, never an option. */
static bool device_name_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > JOB_DEVICE_NAME_MAX || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] <= ' ' || s[i] == 0x7f)
                        return false;
        return true;
}

static int check_devices(const char *what, char *const *l, size_t n, size_t max, char **error) {
        if (n > max) {
                error_set(error, "%zu %s devices: at most %zu", n, what, max);
                return -E2BIG;
        }
        for (size_t i = 0; i < n; i++)
                if (!device_name_valid(l[i])) {
                        error_set(error, "%s device %zu is not a device name (1 to %d printable characters, "
                                  "not starting with '-')", what, i + 1, JOB_DEVICE_NAME_MAX);
                        return -EINVAL;
                }
        return 0;
}

/* A CRUSH device class, as the monitors take them. */
static bool crush_class_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > JOB_CRUSH_CLASS_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
                        return false;
        return true;
}

bool job_osd_create_is_batch(const Castle__OsdCreate *c) {
        return c->n_data_devices > 0 || c->lvm || c->n_db_devices > 0 || c->n_wal_devices > 0 ||
               c->osds_per_device > 1 || c->block_db_size > 0 || c->block_wal_size > 0 || c->db_slots > 0 ||
               c->wal_slots > 0 || c->dmcrypt || c->n_osd_ids > 1 || !isempty(c->spec);
}

int job_osd_create_args(const JobPrepareOptions *o, const Castle__OsdCreate *c, const char *default_class,
                        char ***ret, char **error) {
        _cleanup_strv_free_ char **args = NULL;
        const char *crush_class = !isempty(c->crush_device_class) ? c->crush_device_class : default_class;
        int r = 0;

        if (!c->device_id || !device_name_valid(c->device_id)) {
                error_set(error, "the device is not a device name (1 to %d printable characters, not starting "
                          "with '-')", JOB_DEVICE_NAME_MAX);
                return -EINVAL;
        }
        if ((r = check_devices("data", c->data_devices, c->n_data_devices, JOB_MAX_DEVICES - 1, error)) < 0 ||
            (r = check_devices("DB", c->db_devices, c->n_db_devices, JOB_MAX_DEVICES, error)) < 0 ||
            (r = check_devices("WAL", c->wal_devices, c->n_wal_devices, JOB_MAX_DEVICES, error)) < 0)
                return r;
        if (c->osds_per_device > JOB_MAX_OSDS_PER_DEVICE) {
                error_set(error, "osds_per_device %" PRIu32 ": at most %d", c->osds_per_device, JOB_MAX_OSDS_PER_DEVICE);
                return -ERANGE;
        }
        if (c->db_slots > BATCH_MAX_SLOTS || c->wal_slots > BATCH_MAX_SLOTS) {
                error_set(error, "db_slots/wal_slots %" PRIu32 "/%" PRIu32 ": at most %d", c->db_slots, c->wal_slots,
                          BATCH_MAX_SLOTS);
                return -ERANGE;
        }
        if (c->block_db_size > JOB_MAX_SIZE || c->block_wal_size > JOB_MAX_SIZE) {
                error_set(error, "block_db_size/block_wal_size: at most %llu bytes", (unsigned long long) JOB_MAX_SIZE);
                return -ERANGE;
        }
        if (c->n_osd_ids > BATCH_MAX_OSD_IDS) {
                error_set(error, "%zu OSD ids: at most %d", c->n_osd_ids, BATCH_MAX_OSD_IDS);
                return -E2BIG;
        }
        for (size_t i = 0; i < c->n_osd_ids; i++)
                if (c->osd_ids[i] < 0) {
                        error_set(error, "OSD id %" PRId32 " is not an OSD id", c->osd_ids[i]);
                        return -EINVAL;
                }
        if (!isempty(crush_class) && !crush_class_valid(crush_class)) {
                error_set(error, "the CRUSH device class is not 1 to %d of [A-Za-z0-9._-]", JOB_CRUSH_CLASS_MAX);
                return -EINVAL;
        }
        if (!isempty(c->spec) && !batch_affinity_valid(c->spec)) {
                error_set(error, "the spec name is not 1 to %d of [A-Za-z0-9._-]", BATCH_AFFINITY_MAX);
                return -EINVAL;
        }

        if (!job_osd_create_is_batch(c)) {
                r = job_prepare_args(o, c->device_id, c->dry_run, crush_class, &args);
                if (r >= 0 && c->n_osd_ids == 1)
                        ARG("--osd-id=%" PRId32, c->osd_ids[0]);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(args);
                return 0;
        }

        ARG("%s", "osd");
        ARG("%s", "batch");
        ARG("%s", c->device_id);
        for (size_t i = 0; i < c->n_data_devices; i++)
                ARG("%s", c->data_devices[i]);
        if (r >= 0)
                r = common_args(o, true, &args);
        ARG("--method=%s", c->lvm ? "lvm" : "raw");
        /* --db-devices=X: one per option, so that no name is read as a list's end */
        for (size_t i = 0; i < c->n_db_devices; i++)
                ARG("--db-devices=%s", c->db_devices[i]);
        for (size_t i = 0; i < c->n_wal_devices; i++)
                ARG("--wal-devices=%s", c->wal_devices[i]);
        if (c->no_auto)
                ARG("%s", "--no-auto");
        if (c->osds_per_device > 1)
                ARG("--osds-per-device=%" PRIu32, c->osds_per_device);
        if (c->block_db_size > 0)
                ARG("--block-db-size=%" PRIu64, c->block_db_size);
        if (c->block_wal_size > 0)
                ARG("--block-wal-size=%" PRIu64, c->block_wal_size);
        if (c->db_slots > 0)
                ARG("--db-slots=%" PRIu32, c->db_slots);
        if (c->wal_slots > 0)
                ARG("--wal-slots=%" PRIu32, c->wal_slots);
        if (c->dmcrypt)
                ARG("%s", "--dmcrypt");
        for (size_t i = 0; i < c->n_osd_ids; i++)
                ARG("--osd-id=%" PRId32, c->osd_ids[i]);
        if (!isempty(c->spec))
                ARG("--osdspec-affinity=%s", c->spec);
        if (!isempty(crush_class))
                ARG("--crush-device-class=%s", crush_class);
        if (c->dry_run)
                ARG("%s", "--report");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(args);
        return 0;
}

int job_zap_args(const JobPrepareOptions *o, const Castle__Zap *z, char ***ret, char **error) {
        _cleanup_strv_free_ char **args = NULL;
        int r = 0;

        if (!z->device || !device_name_valid(z->device)) {
                error_set(error, "the device is not a device name (1 to %d printable characters, not starting "
                          "with '-')", JOB_DEVICE_NAME_MAX);
                return -EINVAL;
        }
        ARG("%s", "zap");
        ARG("%s", "--progress=json");
        if (r >= 0)
                r = common_args(o, false, &args);
        if (z->destroy)
                ARG("%s", "--destroy");
        ARG("%s", "--");
        ARG("%s", z->device);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(args);
        return 0;
}
#undef ARG

int job_runner_submit_prepare(JobRunner *jr, uint64_t command_id, const JobPrepareOptions *o,
                              const char *device, bool dry_run, const char *crush_class) {
        _cleanup_strv_free_ char **args = NULL;
        int r;

        r = job_prepare_args(o, device, dry_run, crush_class, &args);
        if (r < 0)
                return r;
        return job_runner_submit(jr, command_id, args);
}

char *job_helper_path(const char *configured) {
        char self[PATH_MAX], *p = NULL;
        ssize_t n;

        if (!isempty(configured))
                return strdup(configured);
        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
                char *slash;

                self[n] = 0;
                slash = strrchr(self, '/'); /* the folder, as dirname() would, without libgen.h */
                if (slash)
                        *slash = 0;
                if (asprintf(&p, "%s/castlectl-osd", self) >= 0 && access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return strdup(LIBEXECDIR "/castlectl-osd");
}

