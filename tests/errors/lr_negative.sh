# --lr below 0, as the checker refuses lr in the file
# status: 2
$CNNC tiny.cnn --train --lr -0.1
