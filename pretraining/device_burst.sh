#!/usr/bin/env bash
# Continue pretraining one source on a borrowed GPU machine for a fixed number of seconds, and
# leave the weights in OUT_DIR to copy back. Run from the repository root there:
#
#   bash pretraining/device_burst.sh SOURCE SECONDS PACKED OUT_DIR [tgan pretrain options...]
#   bash pretraining/device_burst.sh emoji 420 .devdata/emoji.u8.xz "$OUT" --family dcgan --width 32 \
#       --batch 128 --steps 200000 --save-every 1000 --quiet
#
# PACKED is the corpus made here by pretraining/pack_corpus.py (the source zips are too large to
# travel beside the working tree). The run continues from checkpoints/SOURCE (or RESUME_FROM, a
# model folder) with fresh Adam moments, the documented way to continue from a shipped model.
# After SECONDS it is sent Ctrl-C, which `tgan pretrain` answers by saving the step it reached;
# the fp16 model.safetensors and config.json then go to OUT_DIR, with the log. Nothing is
# installed: the machine's own python3 and torch run the code from this folder.
# Check it on a CPU first: the same line with a small --batch and SECONDS=30.
set -euo pipefail
if [[ $# -lt 4 ]]; then
    sed -n '2,6p' "$0"
    exit 2
fi
source_name=$1 seconds=$2 packed=$3 out_dir=$4
shift 4
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out_dir"
python3 pretraining/pack_corpus.py unpack "$packed" --out "$work/corpus"
cp -r "${RESUME_FROM:-checkpoints/$source_name}" "$work/run"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
status=0
timeout --signal=INT --kill-after=60 "$seconds" \
    python3 -m tgan.cli pretrain --data "$work/corpus" --out "$work/run" --resume "$@" \
    2>&1 | tee "$out_dir/pretrain.log" || status=$?
if [[ $status -ne 0 && $status -ne 124 ]]; then  # 124: stopped by the clock, as planned
    echo "tgan pretrain failed (exit $status); nothing copied to $out_dir" >&2
    exit "$status"
fi
cp "$work/run/model.safetensors" "$work/run/config.json" "$out_dir/"
python3 -c "import json, sys; c = json.load(open(sys.argv[1])); print('saved step', c['step'])" "$out_dir/config.json"
