// How one image's convolution is shared by several threads when a batch has fewer images
// than threads: cut into bands of output rows, or split by output channels where W
// outweighs the image. Plans only (ConvPlan arithmetic); conv_onednn.cpp makes and runs
// their primitives.
#pragma once

#include "plugins/cpu/kernels/conv.h"

namespace mg::cpu {

// One image's convolution cut into bands of output rows (the outermost spatial dimension)
// so that several threads share it: each band is a convolution of its own, reading the
// input rows under its windows, with the padding only the first and last bands touch.
struct Bands {
  int index = 0, count = 1;
};

// The plan for band `b` of the whole plan `p` (one image): the window cut to the band's
// rows, x and y moved to the band's first input and output rows. Its in[]/out[] are the
// band's; the layout strides stay the whole tensor's (conv_onednn.cpp's part_desc).
ConvPlan band_plan(const ConvPlan& p, Bands b);

// Whether every band of `count` has output rows and reads at least one input row (a band
// of padding alone is no convolution oneDNN accepts). Fused pools pair rows: not banded.
bool bands_fit(const ConvPlan& p, int count);

// One image split by output channels across `count` threads rather than into bands of
// rows, when W outweighs the image: each thread then reads its share of W and all of X
// instead of all of W and its rows of X. In the late layers of DenseNet-121 (1×1
// convolutions of up to 1,024 channels on 6×6 or 3×3 pixels) bands gained nothing on two
// threads. Equal parts of a multiple of 32 channels: parts of 16 (DenseNet's 3×3
// convolutions of 32 maps) ran slower than bands.
bool channel_split_fits(const ConvPlan& p, int count);

// Output channels [index, index + 1) · maps / count of the plan (one image): W's and B's
// rows for them, and Y from their first channel, strided as the whole Y.
ConvPlan channel_part_plan(const ConvPlan& p, int index, int count);

}  // namespace mg::cpu
