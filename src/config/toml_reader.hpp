#pragma once
// Internal to starling_config: reads a toml++ table against a schema that config.cpp spells
// out as a sequence of read_* calls. Each call remembers its key, so finish() can report every
// other key as unknown and list the valid ones: the list in the error message cannot drift
// from the code that reads the keys.
#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace starling::config {

// Collects every error of one file instead of stopping at the first: an administrator fixing a
// config should see all problems in one run.
class error_sink {
 public:
  explicit error_sink(std::string file) : file_(std::move(file)) {}
  void add(const toml::source_position& at, std::string message);
  void add(std::string message);  // not tied to a position
  bool empty() const { return errors_.empty(); }
  // Sorted by position (file order), errors without a position last.
  std::vector<config_error> take();

 private:
  std::string file_;
  std::vector<config_error> errors_;
};

// "integer", "string", ... as a TOML user would call the type.
std::string_view toml_type_name(toml::node_type type);
// "an integer", "a string", ...
std::string with_article(std::string_view type_name);

// Levenshtein distance, ASCII case-insensitive: for "did you mean" hints.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a plausible typo.
std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates);

class table_reader {
 public:
  enum class table_kind { root, table, array_element };

  // `path` is the dotted TOML path of the table ("" for the root, "limits", "host").
  table_reader(error_sink& errors, const toml::table& table, std::string path, table_kind kind);

  // Each read_* returns true when the key is present and valid, and only then writes `out`.
  // A present but invalid value is reported; an absent key is not (defaults apply).
  bool read_bool(std::string_view key, bool& out);
  // `what` names the quantity in messages: "an integer", "a number of seconds", ...
  std::optional<int64_t> read_int_value(std::string_view key, int64_t min, int64_t max,
                                        std::string_view what = "an integer");
  template <class T>
  bool read_int(std::string_view key, int64_t min, int64_t max, T& out,
                std::string_view what = "an integer") {
    auto v = read_int_value(key, min, max, what);
    if (v) out = static_cast<T>(*v);
    return v.has_value();
  }
  bool read_seconds(std::string_view key, int64_t min, int64_t max, std::chrono::seconds& out);
  // `expected` describes a valid value for the type error message.
  bool read_string(std::string_view key, std::string& out, std::string_view expected = "a string");
  // A string that names a file; rejects NUL bytes. Empty strings are allowed (callers decide).
  bool read_path(std::string_view key, std::filesystem::path& out);
  // One of `allowed` (exact match); returns its index.
  std::optional<size_t> read_choice(std::string_view key, std::span<const std::string_view> allowed);
  // Sub-table [path.key]; nullptr if absent or not a table (reported).
  const toml::table* read_table(std::string_view key);
  // [[key]]; nullptr if absent or not an array of tables (reported).
  const toml::array* read_array_of_tables(std::string_view key);
  // Any array; `expected` describes it for the type error message.
  const toml::array* read_array(std::string_view key, std::string_view expected);

  // Reports every key not asked for by a read_* call. Call after all reads.
  void finish();

  // How a key is named in messages: "threads", "[limits] max_depth", "[[host]] name".
  std::string name(std::string_view key) const;
  // Where the table starts (its header), for errors about the table as a whole.
  toml::source_position position() const { return table_.source().begin; }
  error_sink& errors() { return errors_; }

  // Error helpers shared with config.cpp's cross-field checks.
  void type_error(std::string_view key, const toml::node& node, std::string_view expected);
  static std::string quote(std::string_view s);

 private:
  enum class key_kind { value, table, array_of_tables };
  const toml::node* lookup(std::string_view key, key_kind kind);
  std::string display(std::string_view key, key_kind kind) const;

  error_sink& errors_;
  const toml::table& table_;
  std::string path_;
  table_kind kind_;
  std::vector<std::pair<std::string, key_kind>> known_;  // in the order they were read
};

}  // namespace starling::config
