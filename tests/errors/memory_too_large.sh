# a batch whose plan needs more memory than the machine has
# status: 1
sed "s/batch_size=16/batch_size=1000000/" tiny.cnn > huge.cnn && CNNC_MEMORY_LIMIT=1000000000 $CNNC huge.cnn --check
