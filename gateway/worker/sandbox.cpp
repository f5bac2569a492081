#include "gateway/worker/sandbox.h"

#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define MG_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MG_UNDER_ASAN 1
#endif
#endif

namespace mg::gateway {
namespace {

std::string set_limit(int resource, uint64_t value, const char* name) {
  if (value == 0) return "";
  rlimit limit{value, value};
  if (resource == RLIMIT_CPU) limit.rlim_max = value + 1;  // SIGXCPU first, then SIGKILL
  if (::setrlimit(resource, &limit) != 0) {
    return std::string(name) + ": " + std::strerror(errno) + "; ";
  }
  return "";
}

std::string filter(const worker::Sandbox& sandbox) {
  if (sandbox.allow_network && sandbox.allow_exec) return "";
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return "seccomp: cannot initialise; ";
  int rc = 0;
  if (!sandbox.allow_network) {
    // Unix sockets stay: the worker talks to the server through them.
    rc |= ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                             SCMP_A0(SCMP_CMP_NE, AF_UNIX));
  }
  if (!sandbox.allow_exec) {
    rc |= ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execve), 0);
    rc |= ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execveat), 0);
  }
  if (rc == 0) rc = ::seccomp_load(ctx);
  ::seccomp_release(ctx);
  return rc == 0 ? "" : std::string("seccomp: ") + std::strerror(-rc) + "; ";
}

}  // namespace

std::string confine(const worker::Sandbox& sandbox) {
  std::string problems;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    problems += std::string("no_new_privs: ") + std::strerror(errno) + "; ";
  }
#ifdef MG_UNDER_ASAN
  if (sandbox.memory_bytes != 0) problems += "memory limit skipped under AddressSanitizer; ";
#else
  problems += set_limit(RLIMIT_AS, sandbox.memory_bytes, "memory limit");
#endif
  problems += set_limit(RLIMIT_CPU, sandbox.cpu_seconds, "cpu time limit");
  problems += set_limit(RLIMIT_NOFILE, sandbox.open_files, "open files limit");
  problems += filter(sandbox);
  return problems;
}

}  // namespace mg::gateway
