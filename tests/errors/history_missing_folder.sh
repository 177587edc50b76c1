# --history in a folder that does not exist
# status: 1
$CNNC tiny.cnn --train --threads 1 --history nope/h.csv
