#!/usr/bin/env bash
# Distributed seed generation, each image written exactly once:
#   bash tools/dist_seeds.sh CONFIG GPUS [generate_seeds.py options]
exec bash "$(dirname "$0")/dist_launch.sh" generate_seeds.py "$2" "$1" "${@:3}"
