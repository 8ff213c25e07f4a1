#!/usr/bin/env bash
# REAL music from Debian bookworm game packages, in three disjoint sets (no package in two of them):
#   train     RL conditioning songs (rl.music; `make recipe` fetches them): extremetuxracer-data, lincity-ng-data
#             (GPL-2+). RL needs music only, no paired dance, where the demo corpus has only synthesised music.
#   heldout   evaluation songs never seen in training (docs/results.md): amoebax-data (Free Art License 1.2),
#             xmoto-data (GPL-2+), frozen-bubble-data (GPL-2), powermanga-data (GPL-3+).
#   heldout2  a second, fresh evaluation set, fixed before any model was measured on it (session 16):
#             warzone2100-music, asc-music (GPL-2+).
#   heldout3  a third evaluation set, fixed after heldout2 had been measured and before any model was measured on it:
#             supertux-data (music: GPL-2+), hedgewars-data (GPL-2).
#   heldout4  a fourth, fixed at the start of session 17 before any model was measured on it: flare-game (CC-BY-SA-3.0+),
#             marsshooter-data (music: CC-BY-SA-3.0), openclonk-data (music by K-Pone; Music.ocg/authors.txt).
#   heldout5  a fifth, fixed in session 17 after heldout4 had been measured and before any model was measured on it:
#             supertuxkart-data, widelands-data (GPL-2+; supertuxkart's tracks: data/music/*.music name the licences).
#   heldout6  a sixth, fixed in session 17 after heldout5 had been measured and before any model was measured on it:
#             warmux-data (GPL-2+), scorched3d-data (music loops; 16 tracks together).
# Licences: /usr/share/doc/<pkg>/copyright in each package. The audio is never committed to this repository.
# Needs apt-get, no root (`apt-get download` + `dpkg -x`). File names: <game>__<track>.<ext>, spaces as "_".
# The folder appears only once every track is in it (built beside it, then renamed), so `make recipe` can test for it.
#   scripts/game_music.sh train .cache/dance_rl/train_music     then  python -m dance_rl.train ... --set rl.music=DIR
#   scripts/game_music.sh heldout heldout_music                 then  python -m dance_rl.compare --music heldout_music
set -euo pipefail
usage="usage: scripts/game_music.sh train|heldout|heldout2|heldout3|heldout4|heldout5|heldout6 [OUT_DIR]"
set_name=${1:-}
# package  folder under /usr/share/games  name prefix
case "$set_name" in
  train) tracks="extremetuxracer-data etr/music etr
lincity-ng-data lincity-ng/music/default lincity" ;;
  heldout) tracks="amoebax-data amoebax/music amoebax
xmoto-data xmoto/Textures/Musics xmoto
frozen-bubble-data frozen-bubble/snd frozen-bubble
powermanga-data powermanga/sound/handheld_console powermanga" ;;
  heldout2) tracks="warzone2100-music warzone2100/music warzone2100
asc-music asc/music asc" ;;
  heldout3) tracks="supertux-data supertux2/music supertux
hedgewars-data hedgewars/Data/Music hedgewars" ;;
  heldout4) tracks="flare-game flare/mods/fantasycore/music flare
marsshooter-data marsshooter/audio/music marsshooter
openclonk-data openclonk/Music.ocg openclonk" ;;
  heldout5) tracks="supertuxkart-data supertuxkart/data/music supertuxkart
widelands-data widelands/data/music widelands" ;;
  heldout6) tracks="warmux-data warmux/music warmux
scorched3d-data scorched3d/data/globalmods/none/data/music scorched3d" ;;
  -h|--help) echo "$usage"; exit 0 ;;
  *) echo "scripts/game_music.sh: set '$set_name' is not one of train, heldout, heldout2, heldout3, heldout4, heldout5, heldout6; $usage" >&2; exit 2 ;;
esac
out=$(realpath -m "${2:-${set_name}_music}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
apt-get download $(cut -d' ' -f1 <<<"$tracks")
for deb in *.deb; do dpkg -x "$deb" x; done
mkdir music
while read -r _pkg dir prefix; do
  # every audio file under the folder (warzone2100 keeps its albums in subfolders)
  find "x/usr/share/games/$dir" -type f \( -name '*.ogg' -o -name '*.opus' -o -name '*.mp3' \) -print0 |
    while IFS= read -r -d '' f; do
      rel=${f#"x/usr/share/games/$dir/"}
      name=${rel//\//_}
      cp "$f" "music/${prefix}__${name// /_}"
    done
done <<<"$tracks"
mkdir -p "$(dirname "$out")"
if [ -d "$out" ]; then cp music/* "$out/"; else cp -r music "$out.partial" && mv "$out.partial" "$out"; fi
ls "$out" | wc -l | xargs echo "tracks in $out:"
