#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prometheus metrics of both daemons, scraped over HTTP with curl from a real coordinator and
# agent (CURVE on) following loop devices this test made: the device counts are the devices
# made, the node is online and later stale, hotplug moves the gauges, a garbage and a
# wrong-version message from castle-poke move the dropped counters by reason, and every scrape
# passes a strict parser of the text format 0.0.4 plus Prometheus' own Python parser.
source "$(dirname "$0")/lib.sh"

require_root
require_cmd losetup udevadm jq mkfs.ext4 curl
# Debian's own interpreter: python3-prometheus-client is installed for it, not for another
# python3 that may come first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || skip "$PY is not installed (scripts/install-deps installs python3)"
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
        skip "python3-prometheus-client is not installed (scripts/install-deps installs it)"
BUILD=$(dirname "$CASTLECTL")
AGENT=$BUILD/castle-agent
COORD=$BUILD/castle-coordinator
POKE=$BUILD/tests/castle-poke
for b in "$CASTLECTL" "$AGENT" "$COORD" "$POKE"; do [ -x "$b" ] || skip "$b is not built"; done
ensure_udevd
setup_work

BASE=$(free_loop_base 10) || skip "no block of 10 free loop device numbers between 200 and 999"
P=$((BASE / 10)) # our loop names: loop${P}0 .. loop${P}9

# Free TCP ports, chosen by the kernel (bind to port 0) rather than guessed.
free_ports() {
        "$PY" -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
read -r AP QP MC MA <<<"$(free_ports 4)"
AEP=tcp://127.0.0.1:$AP
QEP=tcp://127.0.0.1:$QP
K=$WORK/keys
mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
for name in coordinator agent client poke; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null; done
cp "$K/agent.key" "$K/poke.key" "$WORK/agents.d/"
cp "$K/client.key" "$WORK/clients.d/"

cluster() { "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"; }

# ---- the parser: strict checks of our own, then prometheus_client's parser as a second opinion
cat >"$WORK/prom.py" <<'PY'
"""Checks a scrape against the text exposition format 0.0.4, or prints one sample's value.
usage: prom.py validate FILE | prom.py get FILE NAME [LABEL=VALUE ...]"""
import math, re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(r"^(%s)(\{.*\})? (\S+)( -?[0-9]+)?$" % NAME)
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}

def parse_labels(text, where):
    """{a="x",b="y"} -> dict; only \\\\, \\" and \\n are valid escapes."""
    labels, i = {}, 1
    while i < len(text) - 1:
        m = re.compile(LABEL).match(text, i)
        if not m or text[m.end():m.end() + 2] != '="':
            raise ValueError("%s: bad label at %r" % (where, text[i:]))
        name, i, value = m.group(0), m.end() + 2, ""
        while True:
            if i >= len(text) - 1:
                raise ValueError("%s: unterminated label value" % where)
            c = text[i]
            if c == "\\":
                esc = text[i + 1]
                if esc not in '\\"n':
                    raise ValueError("%s: invalid escape \\%s" % (where, esc))
                value += {"\\": "\\", '"': '"', "n": "\n"}[esc]
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("%s: raw newline in a label value" % where)
            else:
                value += c
                i += 1
        if name in labels:
            raise ValueError("%s: label %s twice" % (where, name))
        labels[name] = value
        if text[i] == ",":
            i += 1
        elif i != len(text) - 1:
            raise ValueError("%s: expected , or } at %r" % (where, text[i:]))
    return labels

def parse_value(s, where):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$", s):
        raise ValueError("%s: bad value %r" % (where, s))
    return float(s)

def parse(text):
    """-> families {name: {"type", "help", "samples": [(name, labels, value)]}}, strictly."""
    if not text.endswith("\n"):
        raise ValueError("the scrape does not end with a newline")
    families, order, current = {}, [], None
    seen = set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) ?(.*)$" % NAME, line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.groups()
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if fam["samples"]:
                raise ValueError("%s: # %s for %s after its samples" % (where, kind, name))
            key = "type" if kind == "TYPE" else "help"
            if fam[key] is not None:
                raise ValueError("%s: second # %s for %s" % (where, kind, name))
            if kind == "TYPE" and rest not in TYPES:
                raise ValueError("%s: unknown type %r" % (where, rest))
            if kind == "HELP" and re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                raise ValueError("%s: invalid escape in HELP" % where)
            fam[key] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("%s: not a sample: %r" % (where, line))
        sname, ltext, vtext, _ = m.groups()
        labels = parse_labels(ltext, where) if ltext else {}
        value = parse_value(vtext, where)
        fam_name = current
        ftype = families[current]["type"] if current else None
        allowed = {current}
        if ftype == "histogram":
            allowed = {current + s for s in ("_bucket", "_sum", "_count")}
        if current is None or sname not in allowed:
            raise ValueError("%s: sample %s outside of its family's block (# TYPE missing?)" % (where, sname))
        key = (sname, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError("%s: duplicate series %s%s" % (where, sname, ltext or ""))
        seen.add(key)
        families[fam_name]["samples"].append((sname, labels, value))
    for name, fam in families.items():
        if fam["type"] is None or fam["help"] is None:
            raise ValueError("%s has no # TYPE or no # HELP" % name)
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                raise ValueError("counter %s does not end in _total" % name)
            for s, l, v in fam["samples"]:
                if not v >= 0:
                    raise ValueError("counter %s%s is %r" % (s, l, v))
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families

def check_histogram(name, samples):
    groups = {}
    for s, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if s == name + "_bucket":
            if "le" not in labels:
                raise ValueError("%s_bucket without le" % name)
            g["buckets"].append((parse_value(labels["le"], name), v))
        elif s == name + "_sum":
            g["sum"] = v
        else:
            g["count"] = v
    for rest, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        if not les or les[-1] != math.inf:
            raise ValueError("%s%s: no +Inf bucket" % (name, rest))
        if les != sorted(les) or len(set(les)) != len(les):
            raise ValueError("%s%s: le not increasing" % (name, rest))
        if counts != sorted(counts):
            raise ValueError("%s%s: buckets not cumulative" % (name, rest))
        if g["count"] is None or g["sum"] is None:
            raise ValueError("%s%s: _count or _sum missing" % (name, rest))
        if g["count"] != counts[-1]:
            raise ValueError("%s%s: _count %r != +Inf bucket %r" % (name, rest, g["count"], counts[-1]))

def main():
    text = open(sys.argv[2], encoding="utf-8").read()
    families = parse(text)
    if sys.argv[1] == "validate":
        from prometheus_client.parser import text_string_to_metric_families
        theirs = {f.name: f for f in text_string_to_metric_families(text)}
        n_ours = sum(len(f["samples"]) for f in families.values())
        n_theirs = sum(len(f.samples) for f in theirs.values())
        if n_ours != n_theirs:
            raise ValueError("prometheus_client read %d samples, we read %d" % (n_theirs, n_ours))
        print("valid: %d families, %d samples" % (len(families), n_ours))
        return
    want = dict(a.split("=", 1) for a in sys.argv[4:])
    hits = [v for f in families.values() for s, l, v in f["samples"] if s == sys.argv[3] and l == want]
    if len(hits) != 1:
        print("no sample %s%s" % (sys.argv[3], want), file=sys.stderr)
        sys.exit(1)
    v = hits[0]
    print(int(v) if v == int(v) else v)

try:
    main()
except ValueError as e:
    print("invalid scrape: %s" % e, file=sys.stderr)
    sys.exit(1)
PY

# fetch NAME PORT: fetches /metrics into $WORK/NAME.prom and validates it. A connection that
# fails returns 1 quietly (callers may retry); a wrong answer or an invalid scrape is a failure.
SCRAPES=0
fetch() {
        local out=$WORK/$1.prom hdr=$WORK/$1.headers
        curl -sS --max-time 5 -D "$hdr" -o "$out" "http://127.0.0.1:$2/metrics" 2>"$WORK/$1.curl" || return 1
        if ! grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$hdr"; then
                fail "$1: content type: $(cat "$hdr")"
                return 2
        fi
        if ! "$PY" "$WORK/prom.py" validate "$out" >"$WORK/$1.valid" 2>&1; then
                fail "$1: $(cat "$WORK/$1.valid")"
                return 2
        fi
        SCRAPES=$((SCRAPES + 1))
}
scrape() { fetch "$@" || { [ $? = 1 ] && fail "scrape of $1: $(cat "$WORK/$1.curl")"; return 1; }; }
get() { "$PY" "$WORK/prom.py" get "$WORK/$1.prom" "${@:2}"; }
# expect SCRAPE EXPECTED NAME LABELS...: one sample has exactly this value
expect() {
        local file=$1 want=$2 got
        shift 2
        got=$(get "$file" "$@" 2>&1) || got="(missing)"
        if [ "$got" = "$want" ]; then pass "$file: $* = $want"; else fail "$file: $* is $got, expected $want"; fi
}
# value_is PORT NAME EXPECTED SAMPLE LABELS...: for wait_for
value_is() {
        local port=$1 name=$2 want=$3
        shift 3
        fetch "$name" "$port" && [ "$(get "$name" "$@")" = "$want" ]
}

# ---- devices this test knows the verdict of: 3 clean (available), ext4, too small
for i in 0 1 2; do attach_at "${P}$i" "$(new_image "clean$i" 10G)"; done
attach_at "${P}3" "$(new_image ext4 10G)"
mkfs.ext4 -q "/dev/loop${P}3"
attach_at "${P}4" "$(new_image small 1G)"
udevadm settle

# ---- options: --help lists it, --check-config rejects a bad address with a clear message
# (into files: grep -q would close a pipe early, and pipefail would count the writer's SIGPIPE)
"$AGENT" --help >"$WORK/agent.help" && grep -q -- "--metrics-listen" "$WORK/agent.help" ||
        fail "castle-agent --help lists --metrics-listen"
"$COORD" --help >"$WORK/coord.help" && grep -q -- "--metrics-listen" "$WORK/coord.help" ||
        fail "castle-coordinator --help lists --metrics-listen"
printf '[coordinator]\nmetrics-listen = localhost:http\n' >"$WORK/bad.conf"
if "$COORD" --config "$WORK/bad.conf" --check-config >"$WORK/check.out" 2>&1; then
        fail "--check-config accepted metrics-listen = localhost:http"
else
        grep -q "bad.conf:2: metrics-listen: 'localhost:http' is not PORT, ADDRESS:PORT" "$WORK/check.out" ||
                fail "--check-config names file and line: $(cat "$WORK/check.out")"
fi
"$AGENT" --config /dev/null --metrics-listen "$MA" --check-config >"$WORK/check.ini" &&
        grep -q "^metrics-listen = $MA\$" "$WORK/check.ini" || fail "castle-agent --check-config prints metrics-listen"
pass "metrics-listen in --help and --check-config"

"$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
        --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
        --stale-after 3s --offline-after 60s --metrics-listen "127.0.0.1:$MC" >>"$WORK/coordinator.log" 2>&1 &
COORD_PID=$!
PIDS+=("$COORD_PID")
# a bare port means 127.0.0.1
"$AGENT" --config /dev/null --verbose --node-id node-m --coordinator "$AEP" --key "$K/agent.key" \
        --coordinator-key "$K/coordinator.key" --allow-loop --filter "^loop${P}[0-9]\$" --heartbeat-interval 1s \
        --metrics-listen "$MA" >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")

devices_n() { [ "$(cluster devices --format json | jq length)" = "$1" ]; }
wait_for "the agent's 5 devices reach the coordinator" devices_n 5
grep -q "Serving metrics at http://127.0.0.1:$MA/metrics" "$WORK/agent.log" || fail "agent logs where it serves metrics"
grep -q "Serving metrics at http://127.0.0.1:$MC/metrics" "$WORK/coordinator.log" || fail "coordinator logs it"
wait_for "the agent counts itself connected" value_is "$MA" agent 1 castle_agent_coordinator_connected "coordinator=$AEP"

# ---- a second daemon on a metrics port in use: a clear error, exit status 1
read -r p1 p2 <<<"$(free_ports 2)"
"$COORD" --config /dev/null --insecure --agent-endpoint "tcp://127.0.0.1:$p1" \
        --query-endpoint "tcp://127.0.0.1:$p2" --database "$WORK/other.db" \
        --metrics-listen "127.0.0.1:$MC" >"$WORK/inuse.out" 2>&1 &
inuse=$!
PIDS+=("$inuse")
rc=0
wait "$inuse" || rc=$?
if [ "$rc" = 1 ] && grep -q "Failed to serve metrics on 127.0.0.1:$MC: Address already in use" "$WORK/inuse.out"; then
        pass "a metrics port in use stops start-up with a clear error"
else
        fail "metrics port in use: exit $rc, $(cat "$WORK/inuse.out")"
fi

# ---- the agent's view
scrape agent "$MA"
expect agent 3 castle_agent_devices type=loop available=yes
expect agent 2 castle_agent_devices type=loop available=no
expect agent 1 castle_agent_device_reasons reason=has_filesystem
expect agent 1 castle_agent_device_reasons reason=insufficient_space
expect agent 1 castle_agent_coordinator_connected "coordinator=$AEP"
expect agent 1 castle_agent_coordinators_connected
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$BUILD/config.h")
expect agent 1 castle_agent_build_info "version=$version"
[ "$(get agent castle_agent_scans_total kind=full result=ok)" -ge 1 ] || fail "a full scan is counted"
[ "$(get agent castle_agent_scan_duration_seconds_count)" -ge 1 ] || fail "the scan duration is observed"
[ "$(get agent castle_agent_probe_duration_seconds_count)" -ge 5 ] || fail "each of our 5 devices' probe is observed"
[ "$(get agent castle_agent_messages_sent_total "coordinator=$AEP" type=hello)" -ge 1 ] || fail "hello counted as sent"
[ "$(get agent castle_agent_messages_sent_total "coordinator=$AEP" type=snapshot)" -ge 1 ] || fail "snapshot counted as sent"
[ "$(get agent castle_agent_messages_received_total "coordinator=$AEP" type=ack)" -ge 1 ] || fail "acks counted as received"
expect agent 0 castle_agent_probe_timeouts_total
expect agent 0 castle_agent_jobs_pending
last=$(get agent castle_agent_coordinator_last_contact_timestamp_seconds "coordinator=$AEP")
"$PY" -c "import sys, time; sys.exit(0 if abs(time.time() - float(sys.argv[1])) < 10 else 1)" "$last" ||
        fail "last contact $last is not now"
pass "agent: devices by type and verdict, reasons, scans, probes, messages"

# ---- the coordinator's view, against what castlectl cluster lists
scrape coordinator "$MC"
expect coordinator 1 castle_coordinator_nodes state=online
expect coordinator 0 castle_coordinator_nodes state=stale
expect coordinator 3 castle_coordinator_devices available=yes
expect coordinator 2 castle_coordinator_devices available=no
json_yes=$(cluster devices --format json | jq '[.[] | select(.device.available)] | length')
[ "$json_yes" = "$(get coordinator castle_coordinator_devices available=yes)" ] ||
        fail "metrics and castlectl cluster devices disagree on available devices ($json_yes)"
[ "$(get coordinator castle_coordinator_messages_received_total type=hello)" -ge 1 ] || fail "hello received"
[ "$(get coordinator castle_coordinator_messages_received_total type=snapshot)" -ge 1 ] || fail "snapshot received"
[ "$(get coordinator castle_coordinator_messages_applied_total)" -ge 1 ] || fail "snapshot applied"
[ "$(get coordinator castle_coordinator_store_transaction_duration_seconds_count op=snapshot)" -ge 1 ] ||
        fail "the snapshot's transaction is timed"
[ "$(get coordinator castle_coordinator_queries_total kind=devices)" -ge 1 ] || fail "device queries counted"
expect coordinator 0 castle_coordinator_messages_dropped_total reason=decode
expect coordinator 0 castle_coordinator_jobs_pending
pass "coordinator: nodes by liveness, devices by availability, messages, queries, store"

# ---- hostile messages move the dropped counters by reason, and nothing else
recv_invalid=$(get coordinator castle_coordinator_messages_received_total type=invalid)
"$POKE" "$AEP" "$K/poke.key" "$K/coordinator.key" garbage || fail "poke garbage could not send"
wait_for "a garbage message is counted as a decode drop" \
        value_is "$MC" coordinator 1 castle_coordinator_messages_dropped_total reason=decode
expect coordinator 0 castle_coordinator_messages_dropped_total reason=version
expect coordinator $((recv_invalid + 1)) castle_coordinator_messages_received_total type=invalid
"$POKE" "$AEP" "$K/poke.key" "$K/coordinator.key" version || fail "poke version could not send"
wait_for "a wrong-version message is counted as a version drop" \
        value_is "$MC" coordinator 1 castle_coordinator_messages_dropped_total reason=version
expect coordinator 1 castle_coordinator_messages_dropped_total reason=decode

# ---- hotplug moves the gauges on both sides
events=$(get agent castle_agent_udev_events_total)
attach_at "${P}5" "$(new_image hot 10G)"
wait_for "the agent counts the hotplugged disk" value_is "$MA" agent 4 castle_agent_devices type=loop available=yes
[ "$(get agent castle_agent_udev_events_total)" -gt "$events" ] || fail "the uevent is counted"
[ "$(get agent castle_agent_scans_total kind=partial result=ok)" -ge 1 ] || fail "a partial scan is counted"
wait_for "the coordinator counts it" \
        value_is "$MC" coordinator 4 castle_coordinator_devices available=yes
[ "$(get coordinator castle_coordinator_store_transaction_duration_seconds_count op=delta)" -ge 1 ] ||
        fail "the delta's transaction is timed"
detach "/dev/loop${P}5"
wait_for "a detached disk leaves the coordinator's count" \
        value_is "$MC" coordinator 3 castle_coordinator_devices available=yes

# ---- HTTP: only GET/HEAD of /metrics
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "http://127.0.0.1:$MA/")" = 404 ] || fail "/ is 404"
[ "$(code "http://127.0.0.1:$MA/metrics/x")" = 404 ] || fail "/metrics/x is 404"
[ "$(code -X POST -d x "http://127.0.0.1:$MC/metrics")" = 405 ] || fail "POST is 405"
curl -s -o /dev/null -D "$WORK/head" -I --max-time 5 "http://127.0.0.1:$MC/metrics" && grep -q '^HTTP/1.1 200' "$WORK/head" ||
        fail "HEAD is 200"
# Bound: 30 connections that send nothing; the daemon keeps its heartbeat and serves scrapes again once
# they are closed or time out.
"$PY" - "$MA" <<'PY' &
import socket, sys, time
socks = []
for _ in range(30):
    try:
        socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2))
    except OSError:
        pass
time.sleep(3)
PY
idle=$!
sleep 1
kill -0 "$AGENT_PID" || fail "the agent survived 30 idle connections"
wait "$idle"
wait_for "scrapes work again after the idle connections" fetch agent "$MA"
expect agent 1 castle_agent_coordinator_connected "coordinator=$AEP"
pass "404, 405, HEAD and connection bounds"

# ---- liveness: a killed agent's node goes stale in the metrics too
kill -9 "$AGENT_PID"
{ wait "$AGENT_PID"; } 2>/dev/null || true
wait_for "the node is counted stale" value_is "$MC" coordinator 1 castle_coordinator_nodes state=stale
expect coordinator 0 castle_coordinator_nodes state=online
expect coordinator 3 castle_coordinator_devices available=yes # a stale node keeps its inventory

echo "note: $SCRAPES scrapes validated; last agent scrape: $(cat "$WORK/agent.valid"), coordinator: $(cat "$WORK/coordinator.valid")"
[ "$FAILED" -eq 0 ] && pass "metrics"
