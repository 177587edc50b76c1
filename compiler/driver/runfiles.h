/* compiler/driver/runfiles.h: the files a cnnc run names: the outputs checked against the inputs
 * and each other before anything runs, and --predict's folders expanded into images. */
#ifndef CNNC_RUNFILES_H
#define CNNC_RUNFILES_H

/* What a path is to the run. Inputs are read; an output replaces an existing file only of
 * its own kind (RF_MODEL and RF_CHECKPOINT: safetensors; RF_REPORT: HTML; RF_HISTORY: the
 * CSV --history writes; RF_PNG: PNG; RF_DIR: a folder). */
typedef enum {
    RF_INPUT,           /* the .cnn file, --weights, --apply's image */
    RF_RESUME,          /* --resume: the checkpoint outputs may replace it */
    RF_DATA,            /* a data set's folder (or file): no output goes inside it */
    RF_MODEL, RF_CHECKPOINT, RF_REPORT, RF_HISTORY, RF_PNG, RF_DIR,
    RF_ONNX,            /* --export-onnx: an ONNX model (a protobuf starting with ir_version) */
} RunFileKind;

typedef struct RunFile {
    const char *path;
    const char *role;   /* how the user named it: "the .cnn file", "-o", "--report" */
    RunFileKind kind;
} RunFile;

/* 0, or -1 after one line on stderr naming the two paths' roles: an output that is an
 * input (by inode, or by its resolved path when it does not exist yet), that is another
 * output, that lies inside a data folder, or that would replace a file of another kind. */
int runfiles_check(const RunFile *f, int n);

/* --predict's arguments: files as given, folders replaced by the images under them (by
 * extension, recursively, sorted by path). *out is allocated (free each and it); the count
 * is returned, or -1 after a line on stderr naming a folder that cannot be read. A folder
 * without images is an error line on stderr, counted in *failed. */
int runfiles_expand(char *const *args, int nargs, char ***out, int *failed);

#endif
