# an image in the data set that is not one: found by the data check before training
# status: 1
cp -r data bad && f=$(ls bad/train/3 | head -1) && echo junk > "bad/train/3/$f" && $CNNC tiny.cnn --train --threads 1 --seed 1 --data bad
