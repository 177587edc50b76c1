" examples/editors/vim/ftdetect/cnn.vim: .cnn files are cnnc model files.
autocmd BufRead,BufNewFile *.cnn setfiletype cnn
