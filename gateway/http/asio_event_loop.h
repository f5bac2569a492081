#pragma once

#include <memory>

#include "common/event_loop.h"

namespace boost::asio {
class io_context;
}

namespace mg::gateway {

// The EventLoop of a socket thread, on its io_context (the HTTPS server makes one per
// thread). Destroy it on that thread, after the context stopped running.
std::unique_ptr<EventLoop> make_event_loop(boost::asio::io_context& context);

}  // namespace mg::gateway
