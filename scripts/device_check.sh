#!/usr/bin/env bash
# Device check: the Wan2.2 path end to end on a GPU with a tiny random Wan2.2-TI2V-5B-architecture model.
#
#   scripts/device_check.sh                 # DEVICE=cuda (default): needs a CUDA GPU
#   DEVICE=cpu scripts/device_check.sh      # the same steps on the CPU (slower; what CI without a GPU can run)
#
# Steps (each prints one line; the script stops at the first failure):
#   1. write the tiny model (models.wan.save_tiny_wan22: the Wan2.2-TI2V-5B-Diffusers layout, random weights) and
#      two procedural training clips (geometry.npz);
#   2. mirage generate --model TINY --device $DEVICE: training-free (base model, memory guidance) with a prompt and
#      classifier-free guidance; on CUDA again with --offload --vae-tiling (diffusers enable_model_cpu_offload);
#   3. the adapter trainer for 3 steps on $DEVICE (bf16 mixed precision on CUDA), then mirage generate --adapter;
#   4. memory read time at Wan2.2's latent geometry (1280x704 -> 80x44 latent grid, 48 channels, float16 tokens,
#      ~200k tokens, 5 latent frames per read = one 16-frame segment) on the CPU and on $DEVICE.
# Environment: DEVICE (cuda | cpu), WORK (scratch folder; default: a new temp folder, removed at the end unless
# KEEP=1), PYTHON (default: python). Budget: well under 5 minutes on a GPU machine; ~3-4 minutes on 2 CPU cores.
set -euo pipefail

DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python}"
KEEP="${KEEP:-0}"
WORK="${WORK:-$(mktemp -d -t mirage_device_check.XXXXXX)}"
mkdir -p "$WORK"
export HF_HUB_OFFLINE=1
[ "$KEEP" = "1" ] || trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
stamp() { echo "[$(( $(date +%s) - START ))s] $*"; }

case "$DEVICE" in
  cuda*) MP=bf16 ;;
  cpu) MP=no ;;
  *) echo "error: DEVICE must be cuda, cuda:N or cpu, got $DEVICE" >&2; exit 2 ;;
esac

stamp "device check on $DEVICE, scratch $WORK"
"$PYTHON" - "$DEVICE" <<'EOF'
import sys, torch
dev = sys.argv[1]
print(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
if dev.startswith("cuda") and not torch.cuda.is_available():
    sys.exit("error: DEVICE=cuda but torch sees no CUDA GPU (use DEVICE=cpu)")
EOF

# ---------------------------------------------------------------------------- 1. tiny model + clips
"$PYTHON" - "$WORK" <<'EOF'
import sys
from pathlib import Path
import torch
torch.set_num_threads(max(1, min(8, torch.get_num_threads())))
from mirage_world.models.wan import save_tiny_wan22
from mirage_world.worlds import render_world, save_world_clip
work = Path(sys.argv[1])
save_tiny_wan22(work / "tiny_wan22")
for seed in (0, 1):  # 9 frames = 1 + 2 segments of 4, 64x64 (crop multiple of 32)
    save_world_clip(render_world(seed, "random", 9, width=64, height=64), work / "clips" / f"c{seed}",
                    png=False, video=False)
print("tiny Wan2.2-TI2V-5B-layout model and 2 clips written")
EOF
stamp "1. tiny model + clips: ok"

# ---------------------------------------------------------------------------- 2. generate, training-free
GEN=(--example room --size 128x96 --frames 17 --steps 2 --seed 1 --device "$DEVICE")
mirage generate "${GEN[@]}" --model "$WORK/tiny_wan22" --prompt "a quiet room" --guidance-scale 5 \
  --out "$WORK/free.mp4"
stamp "2a. generate training-free (prompt, CFG 5): ok"
if [[ "$DEVICE" == cuda* ]]; then
  mirage generate "${GEN[@]}" --model "$WORK/tiny_wan22" --prompt "a quiet room" --offload --vae-tiling \
    --out "$WORK/offload.mp4"
  stamp "2b. generate with --offload --vae-tiling: ok"
fi

# ---------------------------------------------------------------------------- 3. trainer, then the adapter
CONFIG="$("$PYTHON" -c 'from mirage_world.training.train_adapter import CONFIG_DIR; print(CONFIG_DIR / "wan22_ti2v_5b_adapter.json")')"
"$PYTHON" -m mirage_world.training.train_adapter --config "$CONFIG" --model "$WORK/tiny_wan22" \
  --data "$WORK/clips" --output-dir "$WORK/train" \
  --set steps=3 --set rank=4 --set alpha=4 --set segment_frames=4 --set segments=2 --set 'crop=[64,64]' \
  --set batch_size=1 --set grad_accum=1 --set lr_warmup_steps=0 --set checkpoint_every=3 --set log_every=1 \
  --set num_workers=0 --set 'log_with="none"' --set "mixed_precision=\"$MP\"" --set 'prompt="a quiet room"' \
  --set max_sequence_length=16
stamp "3a. train_adapter, 3 steps ($MP mixed precision): ok"
mirage generate "${GEN[@]}" --model "$WORK/tiny_wan22" --adapter "$WORK/train/adapter" --prompt "a quiet room" \
  --out "$WORK/adapter.mp4"
stamp "3b. generate with the trained adapter: ok"

# ---------------------------------------------------------------------------- 4. memory read time
"$PYTHON" - "$DEVICE" <<'EOF'
import math, sys, time
import torch
from mirage_world.memory import LatentSpatialMemory
from mirage_world.pipelines import read_memory

dev = sys.argv[1]
devices = ["cpu"] + ([dev] if dev != "cpu" else [])
h, w, C, T = 44, 80, 48, 5  # Wan2.2 at 1280x704: 80x44 latent grid; one 16-frame segment = 5 latent frames
K = torch.tensor([[70.0, 0, w / 2], [0, 70.0, h / 2], [0, 0, 1]])


def pose(angle, r=0.3):
    c2w = torch.eye(4)
    c, s = math.cos(angle), math.sin(angle)
    c2w[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    c2w[0, 3], c2w[2, 3] = r * math.sin(angle), -r * math.cos(angle) + r
    return c2w


def sync(d):
    if d.startswith("cuda"):
        torch.cuda.synchronize(d)


g = torch.Generator().manual_seed(0)
n_frames = 57  # 57 x 3520 = 200,640 tokens (append-only)
lat = torch.randn(n_frames, C, h, w, generator=g)
depth = 2.0 + torch.rand(n_frames, h, w, generator=g)
poses = torch.stack([pose(0.03 * i) for i in range(n_frames)])
read_poses = torch.stack([pose(0.05 + 0.03 * i) for i in range(T)])
rows = []
for d in devices:
    mem = LatentSpatialMemory(C, d, dtype="float16")
    for i in range(0, n_frames, 8):
        mem.write(lat[i:i + 8].to(d), depth[i:i + 8].to(d), K.expand(len(lat[i:i + 8]), 3, 3).to(d),
                  poses[i:i + 8].to(d))
    Kd, Pd = K.to(d), read_poses.to(d)
    for name, fn in (("LatentSpatialMemory.read", lambda: mem.read(Kd.expand(T, 3, 3), Pd, (h, w))),
                     ("pipelines.read_memory", lambda: read_memory(mem, Kd, Pd, (h, w)))):
        fn(); sync(d)  # warm-up (index build, kernels)
        times = []
        for _ in range(3):
            t0 = time.perf_counter(); r = fn(); sync(d); times.append(time.perf_counter() - t0)
        rows.append((d, name, mem.num_tokens, min(times), float(r.mask.mean())))
print(f"memory read, {T} latent frames of {w}x{h}, {C} channels float16:")
for d, name, n, t, cov in rows:
    print(f"  {d:7s} {name:26s} {n:,} tokens  {t * 1000:8.1f} ms  (coverage {cov:.2f})")
if len(devices) == 2:
    for name in ("LatentSpatialMemory.read", "pipelines.read_memory"):
        tc = [r[3] for r in rows if r[0] == "cpu" and r[1] == name][0]
        tg = [r[3] for r in rows if r[0] != "cpu" and r[1] == name][0]
        print(f"  {name}: {dev} is {tc / tg:.1f}x faster than the CPU")
EOF
stamp "4. memory read timing: ok"
stamp "device check passed on $DEVICE"
