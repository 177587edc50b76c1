# a batch whose plan needs more memory than the machine has (the bytes needed depend on the
# memory plan, which changes as it improves: they are masked here, tests/e2e/test_memory.sh checks them);
# --no-data: the declared batch (with the data, the batch is capped by the data set's size)
# status: 1
sed "s/batch_size=16/batch_size=1000000/" tiny.cnn > huge.cnn
{ CNNC_MEMORY_LIMIT=1000000000 $CNNC huge.cnn --check --no-data 2>&1 >/dev/null; echo $? >status; } | sed 's/needs [0-9.]* GiB ([0-9]* bytes)/needs N GiB (N bytes)/' >&2
exit "$(cat status)"
