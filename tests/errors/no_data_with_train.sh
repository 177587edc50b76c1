# --no-data is --check's: other actions read their data
# status: 2
$CNNC tiny.cnn --train --no-data
