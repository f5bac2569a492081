#include "gateway/http/asio_event_loop.h"

#include <boost/asio.hpp>
#include <unordered_map>

namespace mg::gateway {
namespace {

namespace net = boost::asio;

class AsioEventLoop final : public EventLoop {
 public:
  explicit AsioEventLoop(net::io_context& context) : context_(context) {}
  ~AsioEventLoop() override {
    locals_.clear();  // first: they forget their descriptors here
    for (auto& [fd, descriptor] : descriptors_) {
      boost::system::error_code ec;
      descriptor->cancel(ec);
      descriptor->release();  // the fd belongs to its owner, who closes it
    }
  }

  void post(std::function<void()> task) override { net::post(context_, std::move(task)); }

  void when_readable(int fd, std::function<void()> ready) override {
    wait(fd, net::posix::stream_descriptor::wait_read, std::move(ready));
  }
  void when_writable(int fd, std::function<void()> ready) override {
    wait(fd, net::posix::stream_descriptor::wait_write, std::move(ready));
  }

  void after(std::chrono::milliseconds delay, std::function<void()> task) override {
    auto timer = std::make_shared<net::steady_timer>(context_, delay);
    timer->async_wait([timer, task = std::move(task)](boost::system::error_code ec) {
      if (!ec) task();
    });
  }

  void forget(int fd) override {
    auto found = descriptors_.find(fd);
    if (found == descriptors_.end()) return;
    boost::system::error_code ec;
    found->second->cancel(ec);
    found->second->release();
    // Its cancelled waits still hold it until they complete (with an error, ignored).
    descriptors_.erase(found);
  }

  std::shared_ptr<void>& local(const void* owner) override { return locals_[owner]; }

 private:
  void wait(int fd, net::posix::stream_descriptor::wait_type type, std::function<void()> ready) {
    auto& descriptor = descriptors_[fd];
    if (!descriptor) descriptor = std::make_shared<net::posix::stream_descriptor>(context_, fd);
    descriptor->async_wait(
        type, [keep = descriptor, ready = std::move(ready)](boost::system::error_code ec) {
          if (!ec) ready();
        });
  }

  net::io_context& context_;
  std::unordered_map<int, std::shared_ptr<net::posix::stream_descriptor>> descriptors_;
  std::unordered_map<const void*, std::shared_ptr<void>> locals_;
};

}  // namespace

std::unique_ptr<EventLoop> make_event_loop(net::io_context& context) {
  return std::make_unique<AsioEventLoop>(context);
}

}  // namespace mg::gateway
