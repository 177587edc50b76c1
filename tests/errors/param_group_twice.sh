# a parameter two groups select
# status: 1
sed "s/^optimizer = .*/optimizer = AdamW([dict(params='*.bias'), dict(params=['classifier.*', 'rest'])])/" tiny.cnn >groups.cnn
$CNNC groups.cnn --check --no-data
