#!/usr/bin/env bash
# Runs one of the tools on GPUS processes through torchrun (the dist_*.sh scripts call this).
#   bash tools/dist_launch.sh TOOL.py GPUS [tool arguments]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. PYTHON picks the interpreter (default: python).
set -euo pipefail
TOOL=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}

PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/$TOOL" "${@:3}" --launcher pytorch
