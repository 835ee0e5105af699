#!/usr/bin/env bash
# Screenshots of the real tray app under Xvfb with traffic flowing.
# `make screenshots` installs what it needs (scripts/system-deps.sh screens).
# Writes docs/screenshots/*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=docs/screenshots
work=$(mktemp -d)
export DISPLAY=:97
export XDG_CONFIG_HOME="$work/config"   # keep the real QSettings untouched
export XDG_DATA_HOME="$work/share"       # and the real data folder (the default one here)
unset QT_QPA_PLATFORM
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

Xvfb "$DISPLAY" -screen 0 1440x900x24 -nolisten tcp & pids+=($!)
sleep 1
openbox & pids+=($!)
trayer --edge top --align right --widthtype request --height 26 --transparent false \
  --tint 0x202020 & pids+=($!)
$PY -m tests.fakes.ollama_sim --port 18434 --token-delay 0.02 --reply-words 40 & pids+=($!)
# A second Ollama host: the dashboard shows both (routing between them)
$PY -m tests.fakes.ollama_sim --port 18440 --token-delay 0.02 --reply-words 40 & pids+=($!)
sleep 1
$PY -m app --port 18435 --ollama-url http://127.0.0.1:18434 --ollama-url http://127.0.0.1:18440 \
  & pids+=($!)
app_pid=$!
sleep 3
$PY -m scripts.traffic http://127.0.0.1:18435 120 & pids+=($!)
sleep 20

# A second launch brings the running instance's dashboard forward.
$PY -m app
sleep 30  # let the dashboard's one-minute timeline fill up
import -window root "$OUT/dashboard.png"

shot_menu_item() {  # $1: how many Down presses from the top of the tray menu, $2: file
  local icon
  icon=$(xdotool search --name '^panel$' | head -1)  # trayer's panel holds our icon
  eval "$(xdotool getwindowgeometry --shell "$icon")"
  xdotool mousemove $((X + WIDTH / 2)) $((Y + HEIGHT / 2)) click 3
  sleep 1
  if [ "$2" = "tray-menu.png" ]; then import -window root "$OUT/$2"; xdotool key Escape; return; fi
  xdotool key --delay 80 $(printf 'Down %.0s' $(seq "$1")) Return
  sleep 2
  import -window root "$OUT/$2"
  xdotool key Escape
  sleep 1
}
shot_menu_item 0 tray-menu.png
# Down presses count from the status line (enabled: it opens the dashboard).
shot_menu_item 6 connect.png   # Down 6 = Connect an IDE…
shot_menu_item 9 settings.png  # Down 9 = Settings… (a dialog: Escape closes it)
shot_menu_item 7 models.png    # Down 7 = Models… (windows that stay open: last)
shot_menu_item 8 requests.png  # Down 8 = Requests… (the inspector)

# A second instance with another data folder: a badged icon beside the first one.
$PY -m app --port 18436 --ollama-url http://127.0.0.1:18434 --data-dir "$work/team-b" &
second_pid=$!; pids+=($second_pid)
sleep 4
import -window root -crop 360x30+1080+0 "$OUT/tray-two-instances.png"
for pid in "$second_pid" "$app_pid"; do  # SIGTERM: each stops gracefully...
  kill "$pid"; wait "$pid" || true       # ...so let it finish before the next step
done

# No system tray (stock GNOME): the dashboard stands in, with every action in its menu.
kill "${pids[2]}"  # trayer
sleep 1
$PY -m app --port 18437 --ollama-url http://127.0.0.1:18434 --data-dir "$work/no-tray" &
notray_pid=$!; pids+=($notray_pid)
sleep 3
$PY -m scripts.traffic http://127.0.0.1:18437 12 & pids+=($!)
sleep 13
xdotool search --name 'Dashboard' | tail -1 | xargs -I{} xdotool windowactivate {} || true
sleep 1
xdotool key alt+p  # open the dashboard's Proxy menu: every tray action is there
sleep 1
import -window root "$OUT/no-tray.png"
xdotool key Escape

# Ollama goes away: the banner says so in words, with what to do.
kill "${pids[3]}"  # the simulator
sleep 6
import -window root "$OUT/ollama-down.png"
kill "$notray_pid"; wait "$notray_pid" || true

# 2x scale on a 2560x1440 screen (no tray there): the dashboard fits and stays sharp.
export DISPLAY=:98
Xvfb "$DISPLAY" -screen 0 2560x1440x24 -nolisten tcp & pids+=($!)
sleep 1
openbox & pids+=($!)
$PY -m tests.fakes.ollama_sim --port 18438 --token-delay 0.02 --reply-words 40 & pids+=($!)
sleep 1
QT_SCALE_FACTOR=2 $PY -m app --port 18439 --ollama-url http://127.0.0.1:18438 \
  --data-dir "$work/hidpi" & hidpi_pid=$!; pids+=($hidpi_pid)
sleep 3
$PY -m scripts.traffic http://127.0.0.1:18439 40 & pids+=($!)
sleep 25
import -window "$(xdotool search --name 'Dashboard' | tail -1)" "$OUT/dashboard-2x.png"
kill "$hidpi_pid"; wait "$hidpi_pid" || true
QT_QPA_PLATFORM=offscreen $PY -m scripts.dark_sample "$OUT/dashboard-dark-sample.png"
echo "screenshots in $OUT"
