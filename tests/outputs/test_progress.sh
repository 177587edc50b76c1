#!/bin/sh
# tests/outputs/test_progress.sh: the progress line and --history. On a terminal (a pty)
# --train redraws one line per epoch in place ("\r\033[K") with the batches done, images/s,
# the loss so far and the time left, and clears it before the epoch's line; into a pipe the
# output has no carriage return or escape at all. --history writes a header and one CSV row
# per epoch whose figures are the log's. Skipped (77) without python3 for the pty.
. "$(dirname "$0")/../lib.sh"

py=
for p in python3 /usr/bin/python3; do command -v "$p" >/dev/null 2>&1 && py=$p && break; done
"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
set -- "$CNNC" "$top_srcdir/models/sea_nodropout.cnn" --train --epochs 2 --seed 4 --data "$tmp/data"

# 1. into a pipe: clean, with --history
"$@" -o "$tmp/a.safetensors" --history "$tmp/h.csv" >"$tmp/pipe" 2>"$tmp/err" || fail "training: $(cat "$tmp/err")"
LC_ALL=C grep -q "$(printf '[\r\033]')" "$tmp/pipe" && fail "a carriage return or escape went into a pipe"
grep -q 'batches' "$tmp/pipe" && fail "the progress line went into a pipe"
[ "$(head -1 "$tmp/h.csv")" = "epoch,train_loss,train_correct,train_total,test_loss,test_correct,test_total,lr,batch_size,weight_decay" ] ||
    fail "history header: $(head -1 "$tmp/h.csv")"
[ "$(wc -l <"$tmp/h.csv")" = 3 ] || fail "history has $(wc -l <"$tmp/h.csv") lines, expected 3"
for n in 1 2; do
    want=$(sed -n "s/^Epoch $n\/2 - Train Loss: \([0-9.]*\), Train Correct: \([0-9]*\)\/\([0-9]*\) - Test Loss: \([0-9.]*\), Test Correct: \([0-9]*\)\/\([0-9]*\)\$/\1 \2 \3 \4 \5 \6/p" "$tmp/pipe")
    got=$(awk -F, -v n=$n '$1 == n { printf "%.4f %d %d %.4f %d %d", $2, $3, $4, $5, $6, $7 }' "$tmp/h.csv")
    [ -n "$want" ] && [ "$want" = "$got" ] || fail "epoch $n: log '$want', history '$got'"
done

# 2. on a terminal
if [ -z "$py" ]; then
    echo "test_progress: no python3 for a pty: the terminal checks are skipped"
    [ "$fails" = 0 ] && exit 77
    exit 1
fi
"$py" - "$tmp/tty" "$@" -o "$tmp/b.safetensors" <<'PY' || fail "could not run cnnc in a pty"
import os, pty, sys
out, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
data = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
_, status = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1)
PY
tr '\r' '\n' <"$tmp/tty" | sed 's/\x1b\[K//g' >"$tmp/lines"
for n in 1 2; do
    grep -Eq "^Epoch $n/2 \[[#.]{24}\] [0-9]+/18 batches, [0-9]+ images/s, loss [0-9]+\.[0-9]{4}, [0-9]+s left\$" "$tmp/lines" ||
        fail "no progress line for epoch $n: $(grep "^Epoch $n/2 \[" "$tmp/lines" | head -2)"
    grep -Eq "^Epoch $n/2 \[#{24}\] 18/18 batches, .*, 0s left\$" "$tmp/lines" || fail "epoch $n's progress does not reach 18/18"
    grep -q "^Epoch $n/2 - Train Loss: " "$tmp/lines" || fail "no epoch line $n on the terminal"
done
[ "$(LC_ALL=C grep -c "$(printf '\r\033\\[KEpoch 1/2 - Train Loss')" "$tmp/tty")" = 1 ] ||
    fail "the progress line is not cleared before the epoch's line"

echo "test_progress: $fails failed"
[ "$fails" = 0 ]
