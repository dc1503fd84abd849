// First run: everything a fresh install needs to start serving "localhost" over TLS. Every
// step only creates what is missing, so running it on each start is safe and changes nothing
// once the files exist; an operator's own files are never overwritten.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <system_error>

#include "config/config.hpp"
#include "config/files.hpp"

namespace starling::config {
namespace fs = std::filesystem;
namespace {

// Creates `dir` if missing; directories Starling creates itself are private (0700) because
// they will hold the account database and private keys. Existing ones keep their mode.
bool ensure_private_dir(const fs::path& dir, std::vector<std::string>& errors) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return true;
  fs::create_directories(dir, ec);
  if (!ec) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    errors.push_back(fmt::format("cannot create directory {}: {}", dir.string(), ec.message()));
    return false;
  }
  return true;
}

struct certificate_job {
  fs::path key;
  std::vector<std::string> hosts;
};

}  // namespace

std::vector<std::string> bootstrap(const fs::path& config_file, const fs::path& data_dir) {
  std::vector<std::string> errors;
  fs::path absolute_data_dir = fs::absolute(data_dir).lexically_normal();
  if (!ensure_private_dir(absolute_data_dir, errors) ||
      !ensure_private_dir(absolute_data_dir / "certs", errors))
    return errors;

  std::error_code ec;
  if (!fs::exists(config_file, ec)) {
    if (ec) return {fmt::format("cannot access {}: {}", config_file.string(), ec.message())};
    std::string error;
    // 0640: the file holds no secrets, but nothing outside the service's group needs it.
    if (!write_file_atomically(config_file, default_config_text(absolute_data_dir), 0640, error))
      return {error};
  }

  load_result loaded = load(config_file);
  for (const auto& e : loaded.errors) errors.push_back(e.str());
  if (!loaded.config) return errors;
  const server_config& cfg = *loaded.config;
  // The file may name another data_dir than the argument (an existing installation).
  if (!ensure_private_dir(cfg.data_dir, errors)) return errors;

  // One job per certificate file: hosts sharing a file share one certificate whose SAN lists
  // them all. The [tls] default covers every host, since it is also what a client gets when
  // it sends no SNI or an unknown name.
  std::map<fs::path, certificate_job> jobs;
  auto want = [&](const fs::path& cert, const fs::path& key, const std::string& host) {
    auto& job = jobs[cert];
    if (job.key.empty()) job.key = key;
    if (std::find(job.hosts.begin(), job.hosts.end(), host) == job.hosts.end()) job.hosts.push_back(host);
  };
  for (const auto& host : cfg.hosts) {
    if (!cfg.tls.certificate.empty()) want(cfg.tls.certificate, cfg.tls.key, host.name);
  }
  for (const auto& host : cfg.hosts) {
    if (!host.certificate.empty()) want(host.certificate, host.key, host.name);
  }

  for (const auto& [cert, job] : jobs) {
    bool has_cert = fs::exists(cert, ec);
    bool has_key = fs::exists(job.key, ec);
    if (has_cert && has_key) continue;
    if (has_cert != has_key) {
      // Generating a new pair would overwrite the half that exists, which may be the
      // operator's real certificate or key.
      errors.push_back(fmt::format("{} exists but {} does not; provide the missing file, or "
                                   "remove the other one to have a self-signed pair generated",
                                   (has_cert ? cert : job.key).string(),
                                   (has_cert ? job.key : cert).string()));
      continue;
    }
    std::string error;
    if (!make_self_signed(job.hosts, cert, job.key, error))
      errors.push_back(fmt::format("cannot create a self-signed certificate {}: {}", cert.string(), error));
  }
  return errors;
}

}  // namespace starling::config
