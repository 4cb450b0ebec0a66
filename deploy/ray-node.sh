#!/usr/bin/env bash
# Start a Ray node for robo-os.
#   deploy/ray-node.sh head                      on the brain's machine
#   deploy/ray-node.sh edge HEAD_IP ROBOT [...]  on a robot's (edge) machine: `robo-os agent`
#                                                joins HEAD_IP:6379 offering robot:<ROBOT> for
#                                                each robot, so their agents
#                                                (on_robot_node: true) are placed there.
set -euo pipefail
export RAY_USAGE_STATS_ENABLED=0
case "${1:-}" in
  head) exec ray start --head --port=6379 --num-cpus="${NUM_CPUS:-2}" --include-dashboard=false ;;
  edge)
    head="${2:?head address}"
    shift 2
    [ "$#" -gt 0 ] || { echo "usage: $0 edge HEAD_IP ROBOT_ID [ROBOT_ID...]" >&2; exit 2; }
    robots=()
    for robot in "$@"; do robots+=(--robot "$robot"); done
    exec robo-os agent --address "$head:6379" "${robots[@]}" ;;
  *) echo "usage: $0 head | edge HEAD_IP ROBOT_ID [ROBOT_ID...]" >&2; exit 2 ;;
esac
