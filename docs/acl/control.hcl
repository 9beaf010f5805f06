# Control commands (`switchyard switch|rollback|canary|status`): read instances and their health,
# change the blue-green state with check-and-set, and follow the render hosts' reports.
# Replace "switchyard/" with --kv-prefix.

# GET /v1/catalog/services, /v1/health/service/:name (the health gate).
service_prefix "" {
  policy = "read"
}

# Instances are only returned with their node.
node_prefix "" {
  policy = "read"
}

# The state and history of each service (PUT with ?cas).
key_prefix "switchyard/services/" {
  policy = "write"
}

# What each render host serves (`--wait`, `status`).
key_prefix "switchyard/renderers/" {
  policy = "read"
}

# Rollouts (`canary --steps`, `rollout status|pause|resume|promote|abort`): write the plan and the
# operators' requests, with check-and-set.
key_prefix "switchyard/rollouts/" {
  policy = "write"
}
