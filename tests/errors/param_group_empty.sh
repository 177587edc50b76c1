# a group that selects nothing
# status: 1
sed "s/^optimizer = .*/optimizer = AdamW([dict(params='*'), dict(params='*.nothing')])/" tiny.cnn >groups.cnn
$CNNC groups.cnn --check --no-data
