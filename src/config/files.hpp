#pragma once
// Internal to starling_config: writing the files bootstrap creates.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace starling::config {

// Writes `data` to a temporary file beside `path` with permissions `mode` (set explicitly, not
// left to the umask), flushes it to disk and renames it over `path`. Readers therefore see
// either no file or the complete file, never a half-written key. Creates missing parent
// directories. On failure returns false and sets `error`.
bool write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode,
                           std::string& error);

}  // namespace starling::config
