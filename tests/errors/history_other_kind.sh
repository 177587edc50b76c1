# --history over an existing file that is not a history CSV
# status: 1
echo "a,b" > other.csv && $CNNC tiny.cnn --train --history other.csv
