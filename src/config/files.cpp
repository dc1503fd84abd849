#include "config/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "util/random.hpp"

namespace starling::config {

bool write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode,
                           std::string& error) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    error = fmt::format("cannot create {}: {}", path.parent_path().string(), ec.message());
    return false;
  }
  // A random suffix keeps two concurrent bootstraps from writing into each other's file.
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + util::random_token(8);
  // O_EXCL: never follow a planted symlink into someone else's file.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno));
    return false;
  }
  auto fail = [&](std::string_view what) {
    error = fmt::format("cannot {} {}: {}", what, tmp.string(), std::strerror(errno));
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  if (::fchmod(fd, mode) != 0) return fail("set permissions of");
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("flush");
  if (::close(fd) != 0) {
    error = fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), std::strerror(errno));
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace starling::config
