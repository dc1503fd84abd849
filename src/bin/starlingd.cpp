// starlingd: the Starling XMPP server. Runs in the foreground and logs to stderr unless the
// configuration names a log file. On first run it writes a default configuration, a
// self-signed certificate and an SQLite database under the configuration's folder.
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "config/config.hpp"
#include "core/server.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Starling XMPP server"};
  std::string config_path = "data/starling.toml";
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (created with defaults if missing)");
  app.add_flag("--check", check_only, "validate the configuration and exit");
  app.set_version_flag("--version", STARLING_VERSION);
  CLI11_PARSE(app, argc, argv);

  fs::path cfg_file = fs::absolute(config_path);
  const bool first_run = !fs::exists(cfg_file);
  if (!check_only) {
    // First run: default config, data folder, self-signed certificates (idempotent).
    for (const auto& e : starling::config::bootstrap(cfg_file, cfg_file.parent_path()))
      std::cerr << "starlingd: " << e << "\n";
  }
  auto loaded = starling::config::load(cfg_file);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) std::cerr << e.str() << "\n";
    std::cerr << "starlingd: configuration has errors; not starting\n";
    return 1;
  }
  if (check_only) {
    std::cout << "configuration OK\n";
    return 0;
  }
  auto cfg = std::move(*loaded.config);

  std::shared_ptr<spdlog::logger> logger;
  if (cfg.log.file.empty()) {
    logger = spdlog::stderr_color_mt("starling");
  } else {
    logger = spdlog::basic_logger_mt("starling", cfg.resolve(cfg.log.file).string());
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(cfg.log.level));
  spdlog::flush_on(spdlog::level::info);

  // Signals go to one thread that waits for them; network threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  starling::server srv(std::move(cfg));
  if (!srv.start()) {
    spdlog::critical("start-up failed");
    return 1;
  }
  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    bool graceful = false;
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (done.load()) return;  // run() returned: main wakes us to end
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading certificates");
        srv.reload_tls();
        continue;
      }
      if (!graceful) {
        // RFC 6120 §4.9.3.19: streams end with <system-shutdown/>, sessions close as usual,
        // within [limits] shutdown_timeout; run() returns when that is done.
        graceful = true;
        spdlog::info("signal {}: shutting down (again to stop at once)", sig);
        srv.shutdown();
        continue;
      }
      spdlog::info("signal {} during the shutdown: stopping now", sig);
      srv.stop();
    }
  });
  if (first_run)
    spdlog::info("first run: wrote {} with defaults, a self-signed certificate and the database under {}",
                 cfg_file.string(), srv.cfg().data_dir.string());
  spdlog::info("Starling {} started", STARLING_VERSION);
  srv.run();
  // run() also returns when a listener failed; make sure the signal thread ends too.
  done.store(true);
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  spdlog::info("stopped");
  return 0;
}
