#!/usr/bin/env bash
# Held-out REAL music for evaluating fine-tuned models (docs/results.md): the game soundtracks of four Debian
# bookworm packages (Free Art License 1.2, GPL-2+, GPL-2, GPL-3+; see each package's /usr/share/doc/<pkg>/copyright).
# Needs apt-get (no root: `apt-get download` + `dpkg -x`). The audio is never committed to this repository.
#   scripts/heldout_music.sh [OUT_DIR]    then    python -m dance_rl.compare --music OUT_DIR ...
set -euo pipefail
out=$(realpath -m "${1:-heldout_music}")
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download amoebax-data xmoto-data frozen-bubble-data powermanga-data
for deb in *.deb; do dpkg -x "$deb" x; done
for dir in amoebax/music xmoto/Textures/Musics frozen-bubble/snd powermanga/sound/handheld_console; do
  for f in x/usr/share/games/"$dir"/*.ogg; do cp "$f" "$out/${dir%%/*}__$(basename "$f")"; done
done
ls "$out" | wc -l | xargs echo "tracks in $out:"
