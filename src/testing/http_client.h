// HttpClient: a small blocking HTTP/1.1 client for tests and tools, on Beast. One
// keep-alive connection, reopened when the server closes it. Not thread-safe: one per
// thread.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>

namespace taquilla::testing {

struct HttpReply {
  int status = 0;                              // 0: no answer (connection failed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  // The body as JSON (null if it is not JSON).
  boost::json::value json() const;
  // error.code of an API error body, or "".
  std::string error_code() const;
  std::string header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  HttpClient(std::string host, int port);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request; `headers` are added as given. A JSON body gets its Content-Type
  // unless headers set one.
  HttpReply Send(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::map<std::string, std::string>& headers = {});
  HttpReply Get(const std::string& target, const std::map<std::string, std::string>& h = {}) {
    return Send("GET", target, "", h);
  }
  HttpReply Post(const std::string& target, const boost::json::value& body,
                 const std::map<std::string, std::string>& h = {}) {
    return Send("POST", target, boost::json::serialize(body), h);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taquilla::testing
