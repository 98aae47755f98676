# SPDX-License-Identifier: LGPL-2.1-or-later
# A coordinator and agents on loopback, for the tests (and benchmarks) that drive castle
# through the fleet: CURVE on, one agent key and one client key, the test cluster's OSD
# options when ceph.sh started one. Sourced after lib.sh (and ceph.sh); the daemons go in
# PIDS, which lib.sh's cleanup stops.

COORD=${COORD:-$(dirname "$CASTLECTL")/castle-coordinator}
AGENT=${AGENT:-$(dirname "$CASTLECTL")/castle-agent}
FLEET_ENV=()

# fleet_keys: the endpoints AEP and QEP on free ports; in $K the CURVE keys of the
# coordinator, an agent and a client, whose public keys the coordinator trusts
# ($WORK/agents.d, $WORK/clients.d).
fleet_keys() {
        local name
        AEP=tcp://127.0.0.1:$(free_port)
        QEP=tcp://127.0.0.1:$(free_port)
        K=$WORK/keys
        mkdir -p "$K" "$WORK/agents.d" "$WORK/clients.d"
        for name in coordinator agent client; do "$CASTLECTL" keygen --dir "$K" "$name" >/dev/null || return 1; done
        cp "$K/agent.key" "$WORK/agents.d/" && cp "$K/client.key" "$WORK/clients.d/"
}

# fleet_coordinator NAME [OPTION...]: castle-coordinator NAME on $AEP and $QEP, its store in
# $WORK/coordinator.db, nodes stale after 3 s, logging to $WORK/coordinator.log.
fleet_coordinator() {
        "$COORD" --config /dev/null --agent-endpoint "$AEP" --query-endpoint "$QEP" --key "$K/coordinator.key" \
                --agent-keys "$WORK/agents.d" --query-keys "$WORK/clients.d" --database "$WORK/coordinator.db" \
                --name "$1" --stale-after 3s --offline-after 60s "${@:2}" >>"$WORK/coordinator.log" 2>&1 &
        PIDS+=("$!")
}

# fleet_agent NODE FILTER [OPTION...]: castle-agent as NODE for the loop devices whose kernel
# names match FILTER, heartbeats every second, with the test cluster's configuration,
# bootstrap keyring and OSD root, start mode fork and its state in $WORK/state (an OPTION
# given again wins), logging to $WORK/agent.log; FLEET_ENV (VAR=VALUE...) is added to its
# environment, which its castlectl-osd children inherit. AGENT_PID: its pid.
fleet_agent() {
        local ceph=()
        [ -z "${CEPH_CONF_FILE:-}" ] ||
                ceph=(--conf "$CEPH_CONF_FILE" --keyring "$CEPH_BOOTSTRAP_KEYRING" --osd-root "$CEPH_DIR/osd")
        env "${FLEET_ENV[@]}" "$AGENT" --config /dev/null --verbose --node-id "$1" --coordinator "$AEP" \
                --key "$K/agent.key" --coordinator-key "$K/coordinator.key" --allow-loop --filter "$2" \
                --heartbeat-interval 1s "${ceph[@]}" --state-dir "$WORK/state" --start-mode fork "${@:3}" \
                >>"$WORK/agent.log" 2>&1 &
        AGENT_PID=$!
        PIDS+=("$AGENT_PID")
}

# cluster ARGS...: castlectl cluster as the client.
cluster() {
        "$CASTLECTL" cluster --coordinator "$QEP" --server-key "$K/coordinator.key" --key "$K/client.key" "$@"
}

# fleet_online NODE: the coordinator lists NODE online.
fleet_online() {
        [ "$(cluster nodes --format json | jq -r --arg n "$1" 'map(select(.node_id == $n))[0].state')" = online ]
}
