#!/usr/bin/env bash
# Start a Ray node for robo-os.
#   deploy/ray-node.sh head                 on the brain's machine
#   deploy/ray-node.sh edge HEAD_IP ROBOT   on a robot's (edge) machine; the node offers the
#                                           custom resource robot:<ROBOT>, so that robot's
#                                           agent (on_robot_node: true) is placed there.
set -euo pipefail
export RAY_USAGE_STATS_ENABLED=0
case "${1:-}" in
  head) exec ray start --head --port=6379 --num-cpus="${NUM_CPUS:-2}" --include-dashboard=false ;;
  edge) exec ray start --address="${2:?head address}:6379" --resources="{\"robot:${3:?robot id}\": 1}" ;;
  *) echo "usage: $0 head | edge HEAD_IP ROBOT_ID" >&2; exit 2 ;;
esac
