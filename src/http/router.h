// Router: maps a method and a path pattern ("/api/v1/listings/{id}") to a handler.
//
// Path segments are percent-decoded before matching; "{name}" matches one non-empty
// segment and its value is passed to the handler in order. A GET route also answers
// HEAD. An unknown path is a 404, a known path with another method a 405 with Allow,
// and a target that is not a valid origin-form URL a 400 — all in the API's error shape.
// Routes are added before serving; after that the Router is read-only and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/server.h"

namespace taquilla::http {

struct Params {
  std::vector<std::string> path;             // values of {…} segments, in order
  std::map<std::string, std::string> query;  // decoded; the first of repeated keys wins
  // The query value of `key`, or "" when absent.
  const std::string& Query(const std::string& key) const;
  bool HasQuery(const std::string& key) const { return query.count(key) != 0; }
};

class Router {
 public:
  using Fn = std::function<Response(const Request&, const Peer&, const Params&)>;

  void Add(bhttp::verb method, std::string pattern, Fn fn);
  // What answers a path no route matches (default: the API's 404).
  void SetNotFound(Fn fn) { not_found_ = std::move(fn); }
  // Answers the request with the matching route, or 400/404/405.
  Response Dispatch(const Request& req, const Peer& peer) const;
  // Every route as "METHOD /pattern".
  std::vector<std::string> Routes() const;

 private:
  struct Route {
    bhttp::verb method;
    std::string pattern;
    std::vector<std::string> segments;  // "{}" for a parameter
    Fn fn;
  };
  std::vector<Route> routes_;
  Fn not_found_;
};

}  // namespace taquilla::http
