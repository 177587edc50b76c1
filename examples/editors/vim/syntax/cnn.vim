" examples/editors/vim/syntax/cnn.vim: Vim syntax for cnnc's .cnn model files (see the
" README's language reference). Install: copy syntax/ and ftdetect/ into ~/.vim/ (or
" ~/.config/nvim/), or `set runtimepath+=/path/to/cnnc/examples/editors/vim`.
if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match

" the model block
syn keyword cnnStatement   model input nextgroup=cnnModelName skipwhite
syn match   cnnModelName   '\h\w*' contained
syn keyword cnnSelf        self
" forward blocks and conditions
syn keyword cnnStatement   forward return
syn keyword cnnConditional if elif else
syn keyword cnnKeyword     and or not is
syn match   cnnFunctional  '\<\%(F\|torch\.nn\.functional\|nn\.functional\)\.\h\w*'
syn match   cnnFunctional  '\<torch\.\%(cat\|flatten\|relu\|sigmoid\|tanh\)\>'

" torch.nn layers (with their module prefixes)
syn match   cnnPrefix      '\<\%(torch\.nn\|nn\|torchvision\.transforms\|transforms\|T\|datasets\|torch\.utils\.data\|torch\.optim\|optim\)\.'
syn keyword cnnLayer       Sequential Conv2d ReLU MaxPool2d Dropout Flatten Linear LazyLinear
syn keyword cnnLayer       BatchNorm2d BatchNorm1d AvgPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d
syn keyword cnnLayer       LeakyReLU ELU GELU SiLU Sigmoid Tanh ReLU6 Hardswish Hardsigmoid
syn keyword cnnLayer       Softmax LogSoftmax Identity Dropout2d
" transforms, data, loss, optimizers
syn keyword cnnTransform   Compose ToTensor Normalize RandomHorizontalFlip RandomVerticalFlip
syn keyword cnnTransform   RandomRotation RandomResizedCrop RandomApply ColorJitter Resize CenterCrop
syn keyword cnnData        ImageFolder DataLoader
syn keyword cnnLoss        CrossEntropyLoss NLLLoss
syn keyword cnnOptimizer   Adam SGD
syn match   cnnParams      '\<model\.parameters()'

" the names cnnc reads
syn keyword cnnRole        train_dataset test_dataset validation_dataset val_dataset validate_dataset
syn keyword cnnRole        train_loader test_loader validation_loader val_loader validate_loader
syn keyword cnnRole        classes species criterion optimizer BATCH_SIZE NUM_EPOCHS

" keyword arguments: kernel_size=3, requires_grad=False (not ==)
syn match   cnnKeywordArg  '\<\h\w*\ze\s*=[^=]' contained containedin=cnnParen
syn region  cnnParen       matchgroup=cnnDelimiter start='(' end=')' contains=TOP transparent

syn keyword cnnConstant    True False true false None
syn keyword cnnOsPath      os

" numbers: 42 0x2A 0b101 0o52 1_000 10u 10L; 1.5 .5 5. 1e-3 1.5f 0x1.8p1
syn match   cnnNumber      '\<0[xX]\x\%(_\=\x\)*[uUlL]*\>'
syn match   cnnNumber      '\<0[bB][01]\%(_\=[01]\)*[uUlL]*\>'
syn match   cnnNumber      '\<0[oO]\o\%(_\=\o\)*[uUlL]*\>'
syn match   cnnNumber      '\<\d\%(_\=\d\)*[uUlL]*\>'
syn match   cnnFloat       '\<\d\%(_\=\d\)*\.\d*\%([eE][-+]\=\d\+\)\=[fF]\='
syn match   cnnFloat       '\%(\<\|\W\)\zs\.\d\+\%([eE][-+]\=\d\+\)\=[fF]\=\>'
syn match   cnnFloat       '\<\d\+[eE][-+]\=\d\+[fF]\=\>'
syn match   cnnFloat       '\<0[xX]\x*\.\=\x*[pP][-+]\=\d\+[fF]\=\>'

" strings with C escapes and \u / \U
syn match   cnnEscape      '\\\%([ntr\\"'"'"'0abfv]\|x\x\{2}\|\o\{1,3}\|u\x\{4}\|U\x\{8}\)' contained
syn region  cnnString      start=+"+ skip=+\\\\\|\\"+ end=+"+ contains=cnnEscape oneline
syn region  cnnString      start=+'+ skip=+\\\\\|\\'+ end=+'+ contains=cnnEscape oneline

syn match   cnnOperator    '//\|[-+*/%=<>!]'
" comments: # ..., /* ... */, and // ... at the start of a line (after a value, // is
" Python's floor division)
syn keyword cnnTodo        TODO FIXME XXX NOTE contained
syn match   cnnComment     '#.*$' contains=cnnTodo,@Spell
syn match   cnnComment     '^\s*//.*$' contains=cnnTodo,@Spell
syn region  cnnComment     start='/\*' end='\*/' contains=cnnTodo,@Spell
syn match   cnnContinue    '\\$'

hi def link cnnStatement   Statement
hi def link cnnModelName   Function
hi def link cnnSelf        Identifier
hi def link cnnConditional Conditional
hi def link cnnKeyword     Keyword
hi def link cnnFunctional  Function
hi def link cnnPrefix      PreProc
hi def link cnnLayer       Type
hi def link cnnTransform   Function
hi def link cnnData        Function
hi def link cnnLoss        Function
hi def link cnnOptimizer   Function
hi def link cnnParams      Special
hi def link cnnRole        Identifier
hi def link cnnKeywordArg  Label
hi def link cnnDelimiter   Delimiter
hi def link cnnConstant    Constant
hi def link cnnOsPath      PreProc
hi def link cnnNumber      Number
hi def link cnnFloat       Float
hi def link cnnEscape      SpecialChar
hi def link cnnString      String
hi def link cnnOperator    Operator
hi def link cnnTodo        Todo
hi def link cnnComment     Comment
hi def link cnnContinue    Special

let b:current_syntax = 'cnn'
let &cpo = s:cpo_save
unlet s:cpo_save
