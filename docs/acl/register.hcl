# Register role (`switchyard run --no-render`): registers, drains and deregisters this host's
# containers on its local agent and reports their Docker health through TTL checks.
# Narrow `service_prefix ""` to the names your containers use (for example "web-") where you can.

# GET /v1/agent/self: the node this agent runs as (owner of the registrations).
agent_prefix "" {
  policy = "read"
}

# PUT /v1/agent/service/register|deregister|maintenance, /v1/agent/check/pass|warn|fail,
# GET /v1/agent/services.
service_prefix "" {
  policy = "write"
}

# Guarding the live color (docs/registering.md): before registering a colored container, read which
# color is live and the live instances' images. Without these reads the guard sees no live color and
# registers as usual.
key_prefix "switchyard/services/" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
