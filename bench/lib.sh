# SPDX-License-Identifier: LGPL-2.1-or-later
# Measurement helpers shared by the OSD benchmarks (bench/prepare, bench/replace): the clock,
# medians and the table's cells, and where the time inside `ceph-osd --mkfs` is read from
# (ceph-volume's own log, an strace of a process tree, an OSD's log). Sourced, not run.

now_us() { echo "${EPOCHREALTIME/./}"; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

ms() { awk -v u="$1" 'BEGIN {printf "%.1f ms", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1fx", b / a}'; }

# cv_mkfs_usec LOG: in ceph-volume's log, the time from "Running command: ... ceph-osd ...
# --mkfs" to the next line (ceph-volume logs a command's output when the command has ended);
# -1 when there is none.
cv_mkfs_usec() {
        python3 - "$1" <<'PY'
import re, sys, datetime
stamp = re.compile(r'^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[([^\]]*)\]\[[^\]]*\] ?(.*)')
def t(s): return datetime.datetime.strptime(s, '%Y-%m-%d %H:%M:%S,%f')
start = None
last = None
for line in open(sys.argv[1], errors='replace'):
    m = stamp.match(line)
    if not m:
        continue
    when, who, msg = t(m.group(1)), m.group(2), m.group(3)
    if 'Running command:' in msg and 'ceph-osd' in msg and '--mkfs' in msg:
        start = when
    elif start:
        last = (when - start) / datetime.timedelta(microseconds=1)
        start = None
print(int(last) if last is not None else -1)
PY
}

# strace_mkfs FILE: in the output of `strace -f -ttt -e trace=execve`, "TOTAL START END": the
# time from each execve of ceph-osd with --mkfs to that process's exit, summed (us), and when
# the first one started and ended (us since the epoch); -1 for each one missing.
strace_mkfs() {
        python3 - "$1" <<'PY'
import re, sys
line_re = re.compile(r'^(\d+)\s+(\d+\.\d+)\s+(.*)')
start = {}
total = first_start = first_end = first_pid = None
for line in open(sys.argv[1], errors='replace'):
    m = line_re.match(line)
    if not m:
        continue
    pid, when, rest = m.group(1), int(float(m.group(2)) * 1e6), m.group(3)
    if rest.startswith('execve(') and 'ceph-osd' in rest.split(',')[0] and '"--mkfs"' in rest \
            and ('= 0' in rest or 'unfinished' in rest):
        start[pid] = when
        if first_pid is None:
            first_start, first_pid = when, pid
    elif rest.startswith('+++ exited') or rest.startswith('+++ killed'):
        if pid in start:
            total = (total or 0) + when - start.pop(pid)
        if pid == first_pid and first_end is None:
            first_end = when
print(' '.join(str(x if x is not None else -1) for x in (total, first_start, first_end)))
PY
}

# osd_boot_us LOG: the daemon's boot in an OSD's log, as "START ACTIVE" (us since the epoch):
# START is the last "ceph version ..., process ceph-osd" line (the daemon's first; mkfs writes
# one too, earlier), ACTIVE the last "state: booting -> active", the moment the OSD saw itself
# up in the osd map; -1 for each one missing.
osd_boot_us() {
        python3 - "$1" <<'PY'
import re, sys, datetime
stamp = r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d{4}) '
start_re = re.compile(stamp + r'.*ceph version .* process ceph-osd')
active_re = re.compile(stamp + r'.*state: booting -> active')
start = active = None
for line in open(sys.argv[1], errors='replace'):
    m = start_re.match(line)
    if m:
        start = m.group(1)
    m = active_re.match(line)
    if m:
        active = m.group(1)
def us(s):
    return -1 if s is None else int(datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%f%z').timestamp() * 1e6)
print(us(start), us(active))
PY
}

# job_steps_usec LOG STEP...: from the agent's log, the last job's step timings ("Job N:
# steps: plan 12.3 ms, lock ..."), summed over the steps named, in us; -1 when there is none.
job_steps_usec() {
        python3 - "$@" <<'PY'
import re, sys
last = None
for line in open(sys.argv[1], errors='replace'):
    m = re.search(r'Job \d+: steps: (.*)\.$', line.rstrip())
    if m:
        last = m.group(1)
if last is None:
    print(-1)
else:
    steps = dict((n, float(v)) for n, v in re.findall(r'([\w-]+) ([\d.]+) ms', last))
    print(int(sum(steps.get(n, 0) for n in sys.argv[2:]) * 1000))
PY
}
