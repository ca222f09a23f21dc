#!/usr/bin/env bash
# The README's fine-tuning experiment, on a narrow domain the bundled weights never saw:
# astrophotographs (the ~550 nebula and galaxy photos of Debian's `stellarium-data` package).
# Every fifth image (sorted by name) is held out; the bundled denoiser and x2 upscaler are
# fine-tuned on the rest, then bundled vs fine-tuned PSNR is measured on the held-out images.
# Skips cleanly when the package cannot be fetched (no apt-get / no network).
#
#   scripts/finetune-experiment.sh 2>&1 | tee runs/finetune-experiment.log
#
# STEPS (default 500) sets the fine-tuning steps; NO_BUILD=1 reuses target/release/aetool.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-500}
work=runs/astro-experiment
photos=runs/stellarium-nebulae
if [ ! -d "$photos" ]; then
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download stellarium-data >/dev/null 2>&1); then
    echo "skip: could not fetch Debian's stellarium-data package (apt-get download)"; exit 0
  fi
  mkdir -p "$tmp/x"
  dpkg-deb --fsys-tarfile "$tmp"/stellarium-data_*.deb | tar -x -C "$tmp/x" --wildcards '*/nebulae/default/*.png'
  mkdir -p runs && mv "$tmp/x/usr/share/stellarium/nebulae/default" "$photos"
  rm -rf "$tmp"
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release >&2
BIN=target/release/aetool
rm -rf "$work" && mkdir -p "$work/tune" "$work/held"
i=0
for f in $(ls "$photos" | sort); do
  if [ $((i % 5)) -eq 4 ]; then dest=held; else dest=tune; fi
  ln -s "$(realpath "$photos/$f")" "$work/$dest/$f"
  i=$((i + 1))
done
echo "tune: $(ls "$work/tune" | wc -l) images, held out: $(ls "$work/held" | wc -l) images"
# The held-out images are scored with Gaussian noise of known sigma, so the denoiser is fine-tuned on
# that (`--degradation classic`); with the default realistic mixture it learns camera noise and JPEG instead.
$BIN finetune --task denoise --degradation classic --dir "$work/tune" --steps "$STEPS" --val-every 100 \
  --checkpoint-every 100 -o "$work/astro-denoise.safetensors" 2>&1 | grep -v '^aetool: skipping'
$BIN finetune --task upscale -x2 --dir "$work/tune" --steps "$STEPS" --val-every 100 \
  --checkpoint-every 100 -o "$work/astro-upscale-x2.safetensors" 2>&1 | grep -v '^aetool: skipping'
echo "== bundled"
$BIN eval --task denoise --sigma 15,25,50 "$work/held"
$BIN eval --task upscale -x2 "$work/held"
echo "== fine-tuned for $STEPS steps on the other four fifths"
$BIN eval --task denoise --sigma 15,25,50 "$work/held" --weights "$work/astro-denoise.safetensors"
$BIN eval --task upscale -x2 "$work/held" --weights "$work/astro-upscale-x2.safetensors"
