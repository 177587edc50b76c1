# tests/mpi/compare.py A B [TOL]: whether two safetensors model files hold the same tensors
# to TOL (default 1e-5) relative: per tensor, the norm of the difference over the norm of A
# (an elementwise bound would fail on weights whose Adam steps divide tiny gradients by
# their own size: summed in another order, those move by up to lr); exit 1 naming the worst.
import json, struct, sys
from array import array

def read(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        code = {'F32': 'f', 'I64': 'q', 'I32': 'i'}[v['dtype']]
        out[k] = array(code, data[a:b])
    return out

a, b = read(sys.argv[1]), read(sys.argv[2])
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
if sorted(a) != sorted(b):
    sys.exit('different keys: %s vs %s' % (sorted(a), sorted(b)))
worst = (0.0, '')
for k in a:
    scale = max(sum(float(x) * x for x in a[k]) ** 0.5, 1e-30)
    d = sum((float(x) - y) ** 2 for x, y in zip(a[k], b[k])) ** 0.5 / scale
    if d > worst[0]:
        worst = (d, k)
if worst[0] > tol:
    sys.exit('%s differs by %.3g of its norm (tolerance %g)' % (worst[1], worst[0], tol))
print('same to %.3g (worst: %s)' % (worst[0], worst[1] or '-'))
