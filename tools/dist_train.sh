#!/usr/bin/env bash
# Distributed training, one process per GPU:  bash tools/dist_train.sh CONFIG GPUS [train.py options]
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
