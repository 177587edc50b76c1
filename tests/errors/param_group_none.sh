# a parameter that no group selects (and no 'rest' group)
# status: 1
sed "s/^optimizer = .*/optimizer = AdamW([dict(params='*.bias', weight_decay=0.0)], lr=0.01)/" tiny.cnn >groups.cnn
$CNNC groups.cnn --check --no-data
