#!/bin/sh
# tests/checkpoint/test_resume_optim.sh: --resume continues AdamW with amsgrad and RMSprop with
# momentum and centered exactly: for each, one epoch with --checkpoint then --resume for the
# second ends with the model file of two uninterrupted epochs (cmp), and the checkpoint holds
# the optimizer's state under torch's names (max_exp_avg_sq; square_avg, momentum_buffer,
# grad_avg).
. "$(dirname "$0")/../lib.sh"

"$top_builddir/examples/make_sea_data" "$tmp/data" >/dev/null || { echo "FAIL: make_sea_data" >&2; exit 1; }
for opt in "AdamW(model.parameters(), lr=0.01, amsgrad=True):exp_avg max_exp_avg_sq" \
           "RMSprop(model.parameters(), lr=0.001, momentum=0.9, centered=True):square_avg momentum_buffer grad_avg"; do
    expr=${opt%%:*}
    keys=${opt#*:}
    sed "s/^optimizer = .*/optimizer = $expr/" "$top_srcdir/tests/checkpoint/tiny.cnn" >"$tmp/tiny.cnn"
    train() { "$CNNC" "$tmp/tiny.cnn" --train --seed 7 --threads 2 "$@"; }
    train --epochs 2 -o "$tmp/ref.safetensors" >/dev/null 2>"$tmp/err" || fail "$expr: $(cat "$tmp/err")"
    train --epochs 1 --checkpoint "$tmp/ck" -o "$tmp/a.safetensors" >/dev/null 2>"$tmp/err" || fail "$expr: $(cat "$tmp/err")"
    for k in $keys; do
        grep -aq "\"classifier.1.weight.$k\"" "$tmp/ck" || fail "$expr: the checkpoint has no classifier.1.weight.$k"
    done
    train --epochs 2 --resume "$tmp/ck" -o "$tmp/b.safetensors" >/dev/null 2>"$tmp/err" || fail "$expr: --resume: $(cat "$tmp/err")"
    cmp -s "$tmp/ref.safetensors" "$tmp/b.safetensors" || fail "$expr: one epoch and --resume differ from two epochs"
done
exit $((fails > 0))
