# --report over an existing file that is not an HTML report
# status: 1
echo "my notes" > notes.html && $CNNC tiny.cnn --train --report notes.html
