#!/usr/bin/env bash
# REAL music for RL fine-tuning (rl.music): the game soundtracks of two Debian bookworm packages, none of them in
# scripts/heldout_music.sh's evaluation set (extremetuxracer-data, lincity-ng-data: GPL-2+; see each package's
# /usr/share/doc/<pkg>/copyright). RL needs music only, no paired dance, so these songs can condition the samples
# where the demo corpus has only synthesised music. Needs apt-get (no root: `apt-get download` + `dpkg -x`). The
# audio is never committed to this repository.
#   scripts/train_music.sh [OUT_DIR]    then    python -m dance_rl.train ... --set rl.music=OUT_DIR
# The folder appears only once every track is in it (built beside it, then renamed), so `make recipe` can test for it.
set -euo pipefail
out=$(realpath -m "${1:-train_music}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download extremetuxracer-data lincity-ng-data
for deb in *.deb; do dpkg -x "$deb" x; done
mkdir music
for f in x/usr/share/games/etr/music/*.ogg; do cp "$f" "music/etr__$(basename "$f")"; done
for f in x/usr/share/games/lincity-ng/music/default/*.ogg; do b=$(basename "$f"); cp "$f" "music/lincity__${b// /_}"; done
mkdir -p "$(dirname "$out")"
if [ -d "$out" ]; then cp music/* "$out/"; else cp -r music "$out.partial" && mv "$out.partial" "$out"; fi
ls "$out" | wc -l | xargs echo "tracks in $out:"
