// plugin.h must compile as C++ too, with C linkage and trivially copyable structs.
#include <type_traits>

#include "modelgate/plugin.h"

static_assert(std::is_trivially_copyable_v<MG_BackendApi>);
static_assert(std::is_trivially_copyable_v<MG_HostApi>);
static_assert(std::is_standard_layout_v<MG_Tensor>);
static_assert(std::is_standard_layout_v<MG_Batch>);
static_assert(MG_DTYPE_BF16 == 14, "dtype values are part of the ABI and never change");
static_assert(MG_ERROR_UNAVAILABLE == 7, "error codes are part of the ABI and never change");
