#!/bin/sh
# tests/outputs/test_vim.sh: the Vim syntax file (examples/editors/vim). A .cnn file is
# detected as filetype cnn, and tokens of a file get their groups: keywords, the model's
# name, layers, forward blocks and conditions, functional forms, keyword arguments, numbers, floats, strings and escapes, constants, the
# names cnnc reads, # and /* */ comments, // as a comment at a line's start but floor
# division after a value. Skipped (77) without a vim that has +syntax.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
command -v vim >/dev/null 2>&1 && vim --version 2>/dev/null | grep -q '+syntax' || {
    echo "test_vim: no vim with +syntax: skipped"
    exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/t.cnn" <<'CNN'
// a comment at the start of a line
Kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
model Sobel {
    input [1, 100, 100]   # grayscale
    n = 200 // 4
    sobel = nn.Conv2d(1, 2, kernel_size=3, bias=False, weight=[[Kx], [Kx]], requires_grad=False)
}
/* a block
   comment */
transform = Compose(ToTensor(), Normalize(mean=[0.5], std=[1e-3]))
train_dataset = ImageFolder("train\x41", transform=transform)
optimizer = Adam(lr=0.001)
model Block(c) {
    bn = BatchNorm2d(c) if c > 1 else None
    forward(x) {
        if self.bn is not None {
            x = F.relu(self.bn(x))
        }
        return torch.cat([x, x], dim=1)
    }
}
CNN
# pattern (Vim regex, first match; the cursor lands on its start) and the expected group
cat >"$tmp/expect" <<'EXP'
^// a comment|cnnComment
^model|cnnStatement
Sobel|cnnModelName
input|cnnStatement
100|cnnNumber
# grayscale|cnnComment
200 \zs//|cnnOperator
nn\.|cnnPrefix
Conv2d|cnnLayer
kernel_size|cnnKeywordArg
requires_grad|cnnKeywordArg
False|cnnConstant
a block|cnnComment
Compose|cnnTransform
Normalize|cnnTransform
0\.5|cnnFloat
1e-3|cnnFloat
train_dataset|cnnRole
ImageFolder|cnnData
"train|cnnString
\\x41|cnnEscape
optimizer|cnnRole
Adam|cnnOptimizer
BatchNorm2d|cnnLayer
c > 1 \zselse|cnnConditional
forward|cnnStatement
is not|cnnKeyword
F\.relu|cnnFunctional
return|cnnStatement
torch\.cat|cnnFunctional
EXP
cat >"$tmp/check.vim" <<VIM
let fails = []
if &filetype != 'cnn'
  call add(fails, 'filetype is "' . &filetype . '", expected cnn')
endif
for item in readfile('$tmp/expect')
  let [pat, want] = split(item, '|')
  call cursor(1, 1)
  if search(pat, 'cW') == 0
    call add(fails, 'pattern not found: ' . pat)
    continue
  endif
  let got = synIDattr(synID(line('.'), col('.'), 1), 'name')
  if got != want
    call add(fails, pat . ': ' . (got == '' ? '(none)' : got) . ', expected ' . want)
  endif
endfor
call writefile(fails, '$tmp/fails')
qa!
VIM
vim -Es -u NONE -N -i NONE --cmd "set rtp^=$top_srcdir/examples/editors/vim" --cmd 'filetype on' --cmd 'syntax on' \
    -c "source $tmp/check.vim" "$tmp/t.cnn" </dev/null >/dev/null 2>&1
[ -f "$tmp/fails" ] || { echo "FAIL: vim did not run the check" >&2; exit 1; }
if [ -s "$tmp/fails" ]; then
    sed 's/^/FAIL: /' "$tmp/fails" >&2
    exit 1
fi
echo "test_vim: $(wc -l <"$tmp/expect") tokens as expected"
