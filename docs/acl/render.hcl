# Render role (`switchyard run --no-register`): reads the catalog, every service's health and the
# blue-green states, and reports which config it serves. Replace "switchyard/" with --kv-prefix.

# GET /v1/catalog/services, /v1/health/service/:name, /v1/health/state/any (service checks).
service_prefix "" {
  policy = "read"
}

# The node of every instance and node-level checks (serfHealth, node maintenance). Without it
# Consul silently leaves instances out of health answers.
node_prefix "" {
  policy = "read"
}

# GET /v1/agent/self: the node name this render host reports under.
agent_prefix "" {
  policy = "read"
}

# The blue-green state of each service, written by the control commands.
key_prefix "switchyard/services/" {
  policy = "read"
}

# Its own report: which config is live here (read by `switch --wait` and `status`).
key_prefix "switchyard/renderers/" {
  policy = "write"
}

# Its proxy's request counters per service and color, for rollout gates (docs/rollouts.md).
key_prefix "switchyard/traffic/" {
  policy = "write"
}
