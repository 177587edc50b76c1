# --report in a folder that does not exist: refused before training
# status: 1
$CNNC tiny.cnn --train --report nope/r.html
