#pragma once

#include <boost/container/small_vector.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mg::gateway {

// A target's path segments: inline up to 8 (every route of the API has at most 7), so
// splitting a request's path allocates nothing.
using PathParts = boost::container::small_vector<std::string_view, 8>;

// The path segments of a request target, without the query ("/v2/models/m/infer?x" →
// v2, models, m, infer). Empty segments are dropped.
PathParts split_path(std::string_view target);

// The values a route's "{name}" segments captured, in order.
class PathParams {
 public:
  void add(std::string_view name, std::string_view value) { values_.emplace_back(name, value); }
  // The captured value; "" when the route has no such parameter.
  std::string_view operator[](std::string_view name) const;
  std::string str(std::string_view name) const { return std::string((*this)[name]); }

 private:
  boost::container::small_vector<std::pair<std::string_view, std::string_view>, 4> values_;
};

// One endpoint: a method and a path pattern ("/admin/v1/models/{model}/aliases/{alias}").
struct RouteSpec {
  std::string_view method;
  std::string_view pattern;
};

// A path pattern split into its segments once, so that matching a request allocates
// nothing for the routes it does not take. The pattern's text must outlive it (routes are
// string literals).
class PathPattern {
 public:
  explicit PathPattern(std::string_view pattern) : segments_(split_path(pattern)) {}
  // Whether `parts` (split_path of a target) match; fills `params` when they do.
  bool match(const PathParts& parts, PathParams& params) const;

 private:
  PathParts segments_;
};

// PathPattern(pattern).match(parts, params), for a pattern used once.
bool match_pattern(std::string_view pattern, const PathParts& parts, PathParams& params);

// A table of routes with handlers of type Handler. find() answers the handler of the route
// whose pattern and method match, or tells whether some route matched the path alone (a
// 405, not a 404).
template <class Handler>
class RouteTable {
 public:
  struct Route {
    RouteSpec spec;
    Handler handler;
  };
  RouteTable(std::initializer_list<Route> routes) : routes_(routes) {
    for (const Route& route : routes_) patterns_.emplace_back(route.spec.pattern);
  }

  struct Found {
    const Handler* handler = nullptr;       // null: no route for this method
    bool path_known = false;                // some route has this path (another method)
    const Handler* path_handler = nullptr;  // that route's handler
    std::string allowed;                    // the methods that path takes, "GET, POST"
  };
  Found find(std::string_view method, const PathParts& parts, PathParams& params) const {
    Found found;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
      const Route& route = routes_[i];
      PathParams candidate;
      if (!patterns_[i].match(parts, candidate)) continue;
      if (route.spec.method == method) {
        params = std::move(candidate);
        found.handler = &route.handler;
        return found;
      }
      if (!found.path_known) found.path_handler = &route.handler;
      found.path_known = true;
      found.allowed += (found.allowed.empty() ? "" : ", ") + std::string(route.spec.method);
    }
    return found;
  }
  std::vector<RouteSpec> specs() const {
    std::vector<RouteSpec> out;
    for (const Route& route : routes_) out.push_back(route.spec);
    return out;
  }

 private:
  std::vector<Route> routes_;
  std::vector<PathPattern> patterns_;  // routes_[i]'s, split once
};

}  // namespace mg::gateway
