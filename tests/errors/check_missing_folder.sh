# --check opens the data: a misspelt folder in the file
# status: 1
sed 's|"data/test"|"data/tset"|' tiny.cnn > misspelt.cnn && $CNNC misspelt.cnn --check
