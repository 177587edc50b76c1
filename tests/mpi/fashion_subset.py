# tests/mpi/fashion_subset.py SRC DST NTRAIN NTEST: the first NTRAIN training and NTEST test
# images and labels of Fashion-MNIST's IDX files in SRC (gzipped), written to DST ungzipped
# with the counts in their headers changed: a small data set for --data DST.
import gzip, sys

src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for name, n in (('train', ntrain), ('t10k', ntest)):
    for kind, head, per in (('images-idx3', 16, 784), ('labels-idx1', 8, 1)):
        f = '%s-%s-ubyte' % (name, kind)
        d = gzip.open('%s/%s.gz' % (src, f)).read()
        out = bytearray(d[:head]) + d[head:head + n * per]
        out[4:8] = n.to_bytes(4, 'big')
        with open('%s/%s' % (dst, f), 'wb') as o:
            o.write(out)
