// taquilla-loadgen: a closed-loop HTTP/1.1 load generator for the secure app's hold and order
// endpoints. One thread per connection, each with its own keep-alive Beast tcp_stream; every
// request waits for its answer before the next one is sent (closed loop), so the offered load is
// `connections` requests in flight.
//
//   taquilla-loadgen --url http://127.0.0.1:7101 --token-file tokens.txt
//       --mode holds|holds_orders|hot --listings FILE_OR_ID --connections 16 --duration 20
//       [--quantity 1] [--until-sold-out] [--timeout 10]
//
// Modes:
//   hot           POST /api/v1/holds on one listing (the first id of --listings);
//                 with --until-sold-out, stops at the first 409 not_enough_tickets and reports
//                 the seconds elapsed until then.
//   holds         POST /api/v1/holds on a random listing id of --listings per request.
//   holds_orders  a hold as above, then on 201 POST /api/v1/orders paying it with the test card;
//                 a completed hold + paid order is one "pair".
//
// Prints one JSON line on stdout:
//   {"mode","connections","seconds","requests","ok","conflicts","errors","pairs","sold_out",
//    "rps","ok_per_s","pairs_per_s","p50_ms","p90_ms","p99_ms","max_ms"}
// where ok counts 2xx answers, conflicts 409s, errors everything else (other statuses, I/O
// failures, timeouts, malformed bodies), and the latencies are over every HTTP request.
// The first few errors are described on stderr. Exit status: 0, or 2 on bad usage.

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

enum class Mode { kHot, kHolds, kHoldsOrders };

struct Options {
  std::string host;
  std::string port;
  std::string base_path;  // URL path prefix without the trailing slash, usually empty
  std::vector<std::string> tokens;
  Mode mode = Mode::kHolds;
  std::string mode_name;
  std::vector<std::int64_t> listings;
  int connections = 16;
  double duration_s = 10;
  int quantity = 1;
  bool until_sold_out = false;
  double timeout_s = 10;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "taquilla-loadgen: " << why << "\n"
            << "usage: taquilla-loadgen --url http://HOST:PORT --token-file FILE\n"
            << "         --mode holds|holds_orders|hot --listings FILE_OR_ID\n"
            << "         [--connections N] [--duration SECONDS] [--quantity Q]\n"
            << "         [--until-sold-out] [--timeout SECONDS]\n";
  std::exit(2);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::int64_t> ParseInt(std::string_view s) {
  s = Trim(s);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) Usage("cannot read " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view t = Trim(line);
    if (!t.empty() && t.front() != '#') lines.emplace_back(t);
  }
  return lines;
}

void ParseUrl(std::string_view url, Options& o) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) Usage("--url must start with http://");
  url.remove_prefix(kScheme.size());
  std::string_view authority = url.substr(0, url.find('/'));
  std::string_view path = authority.size() < url.size() ? url.substr(authority.size()) : "";
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    o.host = authority;
    o.port = "80";
  } else {
    o.host = authority.substr(0, colon);
    o.port = authority.substr(colon + 1);
  }
  if (o.host.empty() || !ParseInt(o.port)) Usage("bad --url");
  o.base_path = path;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  std::string url, token_file, listings;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(std::string(a) + " needs a value");
      return argv[++i];
    };
    auto number = [&](double lo, double hi) -> double {
      std::string v = value();
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || d < lo || d > hi) Usage("bad value for " + std::string(a));
      return d;
    };
    if (a == "--url") {
      url = value();
    } else if (a == "--token-file") {
      token_file = value();
    } else if (a == "--mode") {
      o.mode_name = value();
    } else if (a == "--listings") {
      listings = value();
    } else if (a == "--connections") {
      o.connections = static_cast<int>(number(1, 4096));
    } else if (a == "--duration") {
      o.duration_s = number(0.01, 86400);
    } else if (a == "--quantity") {
      o.quantity = static_cast<int>(number(1, 1000));
    } else if (a == "--timeout") {
      o.timeout_s = number(0.01, 3600);
    } else if (a == "--until-sold-out") {
      o.until_sold_out = true;
    } else if (a == "-h" || a == "--help") {
      Usage("help");
    } else {
      Usage("unknown argument " + std::string(a));
    }
  }
  if (url.empty() || token_file.empty() || o.mode_name.empty() || listings.empty()) {
    Usage("--url, --token-file, --mode and --listings are required");
  }
  ParseUrl(url, o);
  if (o.mode_name == "hot") {
    o.mode = Mode::kHot;
  } else if (o.mode_name == "holds") {
    o.mode = Mode::kHolds;
  } else if (o.mode_name == "holds_orders") {
    o.mode = Mode::kHoldsOrders;
  } else {
    Usage("--mode must be holds, holds_orders or hot");
  }
  o.tokens = ReadLines(token_file);
  if (o.tokens.empty()) Usage("no token in " + token_file);
  if (auto id = ParseInt(listings)) {
    o.listings.push_back(*id);
  } else {
    for (const std::string& line : ReadLines(listings)) {
      auto v = ParseInt(line);
      if (!v) Usage("bad listing id '" + line + "' in " + listings);
      o.listings.push_back(*v);
    }
  }
  if (o.listings.empty()) Usage("no listing id in " + listings);
  if (o.until_sold_out && o.mode != Mode::kHot) Usage("--until-sold-out needs --mode hot");
  return o;
}

// State shared by every worker.
struct Shared {
  const Options& opts;
  tcp::resolver::results_type endpoints;
  Clock::time_point start;
  Clock::time_point deadline;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> sold_out_ns{-1};  // time of the first not_enough_tickets, from start
  std::atomic<int> errors_reported{0};
};

struct Stats {
  std::int64_t requests = 0;
  std::int64_t ok = 0;
  std::int64_t conflicts = 0;
  std::int64_t errors = 0;
  std::int64_t pairs = 0;
  std::vector<double> latencies_ms;
};

void ReportError(Shared& shared, const std::string& what) {
  if (shared.errors_reported.fetch_add(1) < 10) {
    static std::mutex mu;
    std::lock_guard lock(mu);
    std::cerr << "taquilla-loadgen: " << what << "\n";
  }
}

std::string ErrorCode(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const json::value* err = v.as_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  const json::value* code = err->as_object().if_contains("code");
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

// One connection: a keep-alive tcp_stream driven by its own io_context, so that every request
// can carry a timeout (Beast applies timeouts to asynchronous operations only). From the
// thread's point of view each call blocks until the answer, the timeout or a failure.
class Connection {
 public:
  Connection(Shared& shared, std::string token)
      : shared_(shared), stream_(ioc_), token_(std::move(token)) {}

  // Sends a POST with a JSON body and reads the whole response; false on an I/O failure (the
  // connection is then closed and reopened by the next call).
  bool Post(const std::string& path, std::string body, http::response<http::string_body>& res,
            std::string& failure) {
    auto timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(shared_.opts.timeout_s));
    beast::error_code ec;
    if (!open_) {
      stream_.expires_after(timeout);
      stream_.async_connect(shared_.endpoints,
                            [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
      Run();
      if (ec) return Fail("connect: " + ec.message(), failure);
      stream_.socket().set_option(tcp::no_delay(true), ec);
      open_ = true;
    }
    http::request<http::string_body> req{http::verb::post, shared_.opts.base_path + path, 11};
    req.set(http::field::host, shared_.opts.host + ":" + shared_.opts.port);
    req.set(http::field::authorization, "Bearer " + token_);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    res = {};
    stream_.expires_after(timeout);
    http::async_write(stream_, req, [&](beast::error_code e, std::size_t) {
      ec = e;
      if (e) return;
      http::async_read(stream_, buffer_, res, [&](beast::error_code e2, std::size_t) { ec = e2; });
    });
    Run();
    if (ec) return Fail(std::string(path) + ": " + ec.message(), failure);
    if (!res.keep_alive()) Close();
    return true;
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  bool Fail(std::string what, std::string& failure) {
    failure = std::move(what);
    Close();
    return false;
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    open_ = false;
  }

  Shared& shared_;
  asio::io_context ioc_{1};
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string token_;
  bool open_ = false;
};

class Worker {
 public:
  Worker(Shared& shared, int index)
      : shared_(shared),
        conn_(shared, shared.opts.tokens[index % shared.opts.tokens.size()]),
        rng_(0x7a9u + static_cast<std::uint64_t>(index)),
        pick_(0, shared.opts.listings.size() - 1) {}

  void Run() {
    const Options& o = shared_.opts;
    while (!shared_.stop.load(std::memory_order_relaxed) && Clock::now() < shared_.deadline) {
      std::int64_t listing = o.mode == Mode::kHot ? o.listings.front() : o.listings[pick_(rng_)];
      std::int64_t hold_id = 0;
      if (!Hold(listing, hold_id)) continue;
      if (o.mode == Mode::kHoldsOrders && Order(hold_id)) ++stats_.pairs;
    }
  }

  Stats& stats() { return stats_; }

 private:
  // One request; returns the HTTP status, or 0 on an I/O failure (counted as an error).
  unsigned Request(const std::string& path, std::string body,
                   http::response<http::string_body>& res) {
    std::string failure;
    auto t0 = Clock::now();
    bool done = conn_.Post(path, std::move(body), res, failure);
    auto t1 = Clock::now();
    ++stats_.requests;
    stats_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!done) {
      ++stats_.errors;
      ReportError(shared_, failure);
      // Do not spin on a server that refuses connections.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return 0;
    }
    unsigned status = res.result_int();
    if (status >= 200 && status < 300) {
      ++stats_.ok;
    } else if (status == 409) {
      ++stats_.conflicts;
    } else {
      ++stats_.errors;
      ReportError(shared_, "POST " + path + " -> " + std::to_string(status) + " " +
                               res.body().substr(0, 300));
    }
    return status;
  }

  // The response was counted as ok, but its body is unusable: move it to the errors.
  void Malformed(const std::string& path, const std::string& body) {
    --stats_.ok;
    ++stats_.errors;
    ReportError(shared_, "POST " + path + ": unexpected body " + body.substr(0, 300));
  }

  bool Hold(std::int64_t listing, std::int64_t& hold_id) {
    static const std::string kPath = "/api/v1/holds";
    json::object body{{"listing_id", listing}, {"quantity", shared_.opts.quantity}};
    http::response<http::string_body> res;
    unsigned status = Request(kPath, json::serialize(body), res);
    if (status == 409) {
      std::string code = ErrorCode(res.body());
      if (code == "not_enough_tickets") {
        if (shared_.opts.until_sold_out) {
          std::int64_t expected = -1;
          auto ns =
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - shared_.start);
          shared_.sold_out_ns.compare_exchange_strong(expected, ns.count());
          shared_.stop.store(true);
        }
      } else {
        ReportError(shared_, "POST " + kPath + " -> 409 " + res.body().substr(0, 300));
      }
      return false;
    }
    if (status != 201) {
      if (status >= 200 && status < 300) Malformed(kPath, res.body());
      return false;
    }
    if (shared_.opts.mode != Mode::kHoldsOrders) return true;
    boost::system::error_code ec;
    json::value v = json::parse(res.body(), ec);
    const json::value* id = !ec && v.is_object() ? v.as_object().if_contains("id") : nullptr;
    if (!id || !id->is_int64()) {
      Malformed(kPath, res.body());
      return false;
    }
    hold_id = id->as_int64();
    return true;
  }

  bool Order(std::int64_t hold_id) {
    static const std::string kPath = "/api/v1/orders";
    json::object body{
        {"hold_id", hold_id},
        {"payment", json::object{{"method", "test_card"}, {"number", "4242424242424242"}}}};
    http::response<http::string_body> res;
    unsigned status = Request(kPath, json::serialize(body), res);
    if (status != 201) {
      if (status >= 200 && status < 300) Malformed(kPath, res.body());
      if (status == 409) {
        ReportError(shared_, "POST " + kPath + " -> 409 " + res.body().substr(0, 300));
      }
      return false;
    }
    boost::system::error_code ec;
    json::value v = json::parse(res.body(), ec);
    const json::value* st = !ec && v.is_object() ? v.as_object().if_contains("status") : nullptr;
    if (!st || !st->is_string() || st->as_string() != "paid") {
      Malformed(kPath, res.body());
      return false;
    }
    return true;
  }

  Shared& shared_;
  Connection conn_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::size_t> pick_;
  Stats stats_;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank.
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

int Main(int argc, char** argv) {
  Options opts = ParseArgs(argc, argv);
  Shared shared{opts, {}, {}, {}};
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    shared.endpoints = resolver.resolve(opts.host, opts.port, ec);
    if (ec) {
      std::cerr << "taquilla-loadgen: cannot resolve " << opts.host << ": " << ec.message() << "\n";
      return 1;
    }
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < opts.connections; ++i) {
    workers.push_back(std::make_unique<Worker>(shared, i));
  }
  shared.start = Clock::now();
  shared.deadline = shared.start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(opts.duration_s));
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();
  auto end = Clock::now();

  Stats total;
  for (auto& w : workers) {
    Stats& s = w->stats();
    total.requests += s.requests;
    total.ok += s.ok;
    total.conflicts += s.conflicts;
    total.errors += s.errors;
    total.pairs += s.pairs;
    total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(),
                              s.latencies_ms.end());
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  std::int64_t sold_out_ns = shared.sold_out_ns.load();
  double seconds = sold_out_ns >= 0 ? static_cast<double>(sold_out_ns) / 1e9
                                    : std::chrono::duration<double>(end - shared.start).count();
  auto per_s = [&](std::int64_t n) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; };

  std::printf(
      "{\"mode\":\"%s\",\"connections\":%d,\"seconds\":%.3f,\"requests\":%lld,\"ok\":%lld,"
      "\"conflicts\":%lld,\"errors\":%lld,\"pairs\":%lld,\"sold_out\":%s,\"rps\":%.1f,"
      "\"ok_per_s\":%.1f,\"pairs_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f}\n",
      opts.mode_name.c_str(), opts.connections, seconds, static_cast<long long>(total.requests),
      static_cast<long long>(total.ok), static_cast<long long>(total.conflicts),
      static_cast<long long>(total.errors), static_cast<long long>(total.pairs),
      sold_out_ns >= 0 ? "true" : "false", per_s(total.requests), per_s(total.ok),
      per_s(total.pairs), Percentile(total.latencies_ms, 50), Percentile(total.latencies_ms, 90),
      Percentile(total.latencies_ms, 99),
      total.latencies_ms.empty() ? 0.0 : total.latencies_ms.back());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "taquilla-loadgen: " << e.what() << "\n";
    return 1;
  }
}
