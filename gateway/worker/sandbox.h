#pragma once

#include <string>

#include "gateway/plugin_host/worker_messages.h"

namespace mg::gateway {

// Confines the calling process (a backend worker) before it loads a plugin:
// PR_SET_NO_NEW_PRIVS, the resource limits of `sandbox`, and a seccomp filter refusing
// (EPERM) network sockets and exec unless the backend's config grants them. Returns what
// it could not apply ("" when everything was), for the worker to log; the address-space
// limit is skipped under AddressSanitizer, whose shadow memory reserves terabytes.
std::string confine(const worker::Sandbox& sandbox);

}  // namespace mg::gateway
