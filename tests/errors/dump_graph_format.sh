# an unknown --dump-graph format
# status: 2
$CNNC tiny.cnn --dump-graph=svg
