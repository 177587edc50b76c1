# --predict on a folder that cannot be read
# status: 1
mkdir -p locked/sub && chmod 0 locked/sub && $AS_USER $CNNC tiny.cnn --predict --weights tiny.safetensors locked; rc=$?; chmod 755 locked/sub; exit $rc
