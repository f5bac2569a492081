/* plugin.h must compile as strict C99 (built with -std=c99 -Wpedantic -Werror). */
#include "modelgate/plugin.h"

/* Uses the types so that a broken declaration fails here, not in a third party's build. */
size_t plugin_header_c99_check(const MG_BackendApi* api, const MG_HostApi* host);
size_t plugin_header_c99_check(const MG_BackendApi* api, const MG_HostApi* host) {
  MG_Tensor tensor = {"x", MG_DTYPE_FP32, 0, NULL, NULL, 0};
  MG_BackendEntryFn entry = NULL;
  (void)entry;
  (void)tensor;
  return sizeof *api + sizeof *host + sizeof(MG_Batch) + sizeof(MG_ModelMetadata);
}
