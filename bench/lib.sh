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

# strace_mkfs_usec FILE: in the output of `strace -f -ttt -e trace=execve`, the time from
# each execve of ceph-osd with --mkfs to that process's exit, summed; -1 when there is none.
strace_mkfs_usec() {
        python3 - "$1" <<'PY'
import re, sys
line_re = re.compile(r'^(\d+)\s+(\d+\.\d+)\s+(.*)')
start = {}
total = None
for line in open(sys.argv[1], errors='replace'):
    m = line_re.match(line)
    if not m:
        continue
    pid, when, rest = m.group(1), float(m.group(2)), m.group(3)
    if rest.startswith('execve(') and 'ceph-osd' in rest.split(',')[0] and '"--mkfs"' in rest \
            and ('= 0' in rest or 'unfinished' in rest):
        start[pid] = when
    elif rest.startswith('+++ exited') or rest.startswith('+++ killed'):
        if pid in start:
            total = (total or 0) + (when - start.pop(pid)) * 1e6
print(int(total) if total is not None else -1)
PY
}

# osd_active_us LOG: the time (us since the epoch) of the last "state: booting -> active" in
# an OSD's log, the moment the OSD saw itself up in the osd map; -1 when there is none.
osd_active_us() {
        python3 - "$1" <<'PY'
import re, sys, datetime
pat = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d{4}) .*state: booting -> active')
last = None
for line in open(sys.argv[1], errors='replace'):
    m = pat.match(line)
    if m:
        last = m.group(1)
if last is None:
    print(-1)
else:
    t = datetime.datetime.strptime(last, '%Y-%m-%dT%H:%M:%S.%f%z')
    print(int(t.timestamp() * 1e6))
PY
}

# strace_marks FILE HELPER: in the same strace output, the times (us since the epoch) of the
# first successful execve of HELPER (a program's name), of the first `ceph-osd --mkfs`, of its
# exit, and of the last ceph-osd started without --mkfs (the daemon); -1 for each one missing.
strace_marks() {
        python3 - "$1" "$2" <<'PY'
import re, sys
line_re = re.compile(r'^(\d+)\s+(\d+\.\d+)\s+(.*)')
helper, mk_start, mk_end, daemon, mk_pid = None, None, None, None, None
for line in open(sys.argv[1], errors='replace'):
    m = line_re.match(line)
    if not m:
        continue
    pid, when, rest = m.group(1), int(float(m.group(2)) * 1e6), m.group(3)
    if rest.startswith('execve(') and rest.rstrip().endswith('= 0'):
        prog = rest.split(',')[0].split('/')[-1].strip('"')
        if prog == sys.argv[2] and helper is None:
            helper = when
        elif prog == 'ceph-osd' and '"--mkfs"' in rest:
            if mk_start is None:
                mk_start, mk_pid = when, pid
        elif prog == 'ceph-osd':
            daemon = when
    elif rest.startswith('+++ ') and pid == mk_pid and mk_end is None:
        mk_end = when
print(' '.join(str(x if x is not None else -1) for x in (helper, mk_start, mk_end, daemon)))
PY
}
