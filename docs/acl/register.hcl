# Register role (`switchyard run --no-render`): registers, drains and deregisters this host's
# containers on its local agent and reports their Docker health through TTL checks.
# Narrow `service_prefix ""` to the names your containers use (for example "web-") where you can.

# GET /v1/agent/self: the node this agent runs as (owner of the registrations).
agent_prefix "" {
  policy = "read"
}

# PUT /v1/agent/service/register|deregister|maintenance, /v1/agent/check/pass|warn|fail|deregister,
# GET /v1/agent/services; GET /v1/health/service/:name for the live-color guard (write includes read).
service_prefix "" {
  policy = "write"
}

# The live-color guard reads every live instance, on any host: without node read Consul silently
# leaves instances out of health answers, and the guard would see none to compare with.
node_prefix "" {
  policy = "read"
}

# The live-color guard reads which color is live (written by the control commands).
key_prefix "switchyard/services/" {
  policy = "read"
}
