#include "http/daemon.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "http/response.h"
#include "http/server.h"

namespace taquilla::http {

int RunDaemon(const DaemonOptions& options, spdlog::logger& log,
              std::function<std::string()> metrics, std::function<void(int port)> on_listening,
              std::function<Status(const std::atomic<bool>& stop)> run) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.io_threads = 1;
  so.handler_threads = 0;
  const std::string not_found = options.name + " serves /metrics and /healthz";
  Server server(so, [&metrics, &not_found](const Request& req, const Peer&) {
    if (req.target() == "/metrics") {
      Response res{boost::beast::http::status::ok, req.version()};
      res.set(boost::beast::http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = metrics();
      res.prepare_payload();
      return res;
    }
    if (req.target() == "/healthz") {
      return JsonResponse(boost::beast::http::status::ok, boost::json::object{{"status", "ok"}});
    }
    return ErrorResponse(boost::beast::http::status::not_found, "not_found", not_found);
  });
  if (Status s = server.Start(); !s.ok()) {
    log.error("{}", s.error().message);
    return 1;
  }
  on_listening(server.port());

  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log.info("stopping on signal {}", sig);
    stop = true;
  });
  Status s = run(stop);
  // `run` returned by itself (a configuration error): wake the waiter.
  if (!stop) kill(getpid(), SIGTERM);
  waiter.join();
  server.Stop();
  if (!s.ok()) {
    log.error("{}", s.error().message);
    return 1;
  }
  return 0;
}

}  // namespace taquilla::http
