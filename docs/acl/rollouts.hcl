# Executing rollouts (every `switchyard run` unless --no-rollouts; docs/rollouts.md): hold a Consul
# session and take each plan's lock, read the plan, the instances and the traffic counters, write the
# blue-green state (and history) and the plan's progress. Replace "switchyard/" with --kv-prefix.

# PUT /v1/session/create|renew|destroy: the session that holds the locks.
session_prefix "" {
  policy = "write"
}

# The plans and their locks (PUT ?acquire= / ?release=).
key_prefix "switchyard/rollouts/" {
  policy = "write"
}

# Each step's weights and every decision's history entry (PUT with ?cas).
key_prefix "switchyard/services/" {
  policy = "write"
}

# Every render host's counters, for the gate.
key_prefix "switchyard/traffic/" {
  policy = "read"
}

# The canary's instances and their health.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}

# GET /v1/agent/self: the node name in history entries (`rollout@<node>/<pid>`) when --node-id is unset.
agent_prefix "" {
  policy = "read"
}
