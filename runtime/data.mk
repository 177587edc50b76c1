# runtime/data.mk: image decoding, transforms, ImageFolder, DataLoader, safetensors; the
# synthetic stand-in data; their tests.
libcnnrt_a_SOURCES += \
	runtime/image.c runtime/imagefolder.c runtime/transforms.c runtime/dataloader.c \
	runtime/transforms/pil.h runtime/transforms/geometry.c runtime/transforms/color.c \
	runtime/mnist.c runtime/samplecache.c runtime/datacheck.c \
	runtime/json.c runtime/json.h runtime/safetensors.c

# make demo-data: the synthetic sea-creature images under data/sea_creature_images
noinst_PROGRAMS += examples/make_sea_data
EXTRA_DIST += examples/check_sea_data.py

.PHONY: demo-data
demo-data: examples/make_sea_data$(EXEEXT)
	./examples/make_sea_data$(EXEEXT) $(top_srcdir)/data/sea_creature_images

DATA_C_TESTS = \
	tests/data/test_json tests/data/test_safetensors tests/data/test_image \
	tests/data/test_imagefolder tests/data/test_transforms tests/data/test_dataloader \
	tests/data/test_make_sea_data tests/data/test_mnist tests/data/test_datacheck
check_PROGRAMS += $(DATA_C_TESTS) tests/data/data_tool tests/data/tf_tool
TESTS += $(DATA_C_TESTS) tests/data/test_safetensors_py.py tests/data/test_imagefolder_py.py \
	tests/data/test_transforms_py.py
EXTRA_DIST += tests/data/datatest.h tests/data/safetensors_io.py \
	tests/data/test_safetensors_py.py tests/data/test_imagefolder_py.py tests/data/test_transforms_py.py

# the data side through the command line (bad images, previews, FashionMNIST, workers)
TESTS += tests/e2e/test_data_cli.sh tests/e2e/test_datacheck.sh
EXTRA_DIST += tests/e2e/test_data_cli.sh tests/e2e/test_datacheck.sh

# make bench-loader: the loader alone against torchvision's DataLoader (bench/loader.sh); not a test
noinst_PROGRAMS += bench/loader_bench
EXTRA_DIST += bench/loader.sh bench/loader_torchvision.py
.PHONY: bench-loader
bench-loader: bench/loader_bench$(EXEEXT) examples/make_sea_data$(EXEEXT)
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' PYTHON_TORCH='$(PYTHON_TORCH)' \
	    $(SHELL) $(srcdir)/bench/loader.sh
