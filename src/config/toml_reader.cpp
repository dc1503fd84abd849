#include "config/toml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace starling::config {

void error_sink::add(const toml::source_position& at, std::string message) {
  errors_.push_back({file_, at.line, at.column, std::move(message)});
}

void error_sink::add(std::string message) { errors_.push_back({file_, 0, 0, std::move(message)}); }

std::vector<config_error> error_sink::take() {
  // Line 0 sorts last: "no [[host]]" reads best after the line-specific complaints.
  auto key = [](const config_error& e) {
    return std::pair(e.line == 0 ? UINT32_MAX : e.line, e.column);
  };
  std::stable_sort(errors_.begin(), errors_.end(),
                   [&](const config_error& a, const config_error& b) { return key(a) < key(b); });
  return std::move(errors_);
}

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "floating-point number";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string with_article(std::string_view type_name) {
  bool vowel = !type_name.empty() && std::string_view("aeiou").find(type_name[0]) != std::string_view::npos;
  return fmt::format("{} {}", vowel ? "an" : "a", type_name);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
  // Allow roughly two edits in five characters: catches "max_stanzas" -> "max_stanza_size"
  // and "scram-sha-1" -> "SCRAM-SHA-1" without suggesting unrelated short keys.
  size_t limit = std::max<size_t>(2, word.size() * 2 / 5);
  std::optional<std::string_view> best;
  size_t best_distance = limit + 1;
  auto starts_with = [](std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && edit_distance(s.substr(0, prefix.size()), prefix) == 0;
  };
  for (auto candidate : candidates) {
    size_t d = edit_distance(word, candidate);
    // "warning" for "warn", "cert" for "certificate": a prefix is as good as one edit.
    if (std::min(word.size(), candidate.size()) >= 3 &&
        (starts_with(word, candidate) || starts_with(candidate, word)))
      d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

table_reader::table_reader(error_sink& errors, const toml::table& table, std::string path,
                           table_kind kind)
    : errors_(errors), table_(table), path_(std::move(path)), kind_(kind) {}

std::string table_reader::quote(std::string_view s) {
  // Values are echoed back in messages; escape them so a stray control character or a very
  // long value cannot garble the terminal or the log line.
  std::string out = "\"";
  size_t shown = 0;
  for (char c : s) {
    if (++shown > 80) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string table_reader::name(std::string_view key) const {
  switch (kind_) {
    case table_kind::root: return std::string(key);
    case table_kind::table: return fmt::format("[{}] {}", path_, key);
    case table_kind::array_element: return fmt::format("[[{}]] {}", path_, key);
  }
  return std::string(key);
}

std::string table_reader::display(std::string_view key, key_kind kind) const {
  std::string full = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  switch (kind) {
    case key_kind::value: return std::string(key);
    case key_kind::table: return fmt::format("[{}]", full);
    case key_kind::array_of_tables: return fmt::format("[[{}]]", full);
  }
  return std::string(key);
}

void table_reader::type_error(std::string_view key, const toml::node& node,
                              std::string_view expected) {
  errors_.add(node.source().begin, fmt::format("{} is {}; expected {}", name(key),
                                               with_article(toml_type_name(node.type())), expected));
}

const toml::node* table_reader::lookup(std::string_view key, key_kind kind) {
  known_.emplace_back(std::string(key), kind);
  return table_.get(key);
}

bool table_reader::read_bool(std::string_view key, bool& out) {
  const toml::node* node = lookup(key, key_kind::value);
  if (!node) return false;
  if (auto* v = node->as_boolean()) {
    out = v->get();
    return true;
  }
  type_error(key, *node, "true or false");
  return false;
}

std::optional<int64_t> table_reader::read_int_value(std::string_view key, int64_t min,
                                                    int64_t max, std::string_view what) {
  const toml::node* node = lookup(key, key_kind::value);
  if (!node) return std::nullopt;
  std::string expected = fmt::format("{} from {} to {}", what, min, max);
  auto* v = node->as_integer();
  if (!v) {
    type_error(key, *node, expected);
    return std::nullopt;
  }
  if (v->get() < min || v->get() > max) {
    errors_.add(node->source().begin,
                fmt::format("{} = {} is out of range; expected {}", name(key), v->get(), expected));
    return std::nullopt;
  }
  return v->get();
}

bool table_reader::read_seconds(std::string_view key, int64_t min, int64_t max,
                                std::chrono::seconds& out) {
  auto v = read_int_value(key, min, max, "a number of seconds");
  if (v) out = std::chrono::seconds(*v);
  return v.has_value();
}

bool table_reader::read_string(std::string_view key, std::string& out, std::string_view expected) {
  const toml::node* node = lookup(key, key_kind::value);
  if (!node) return false;
  if (auto* v = node->as_string()) {
    out = v->get();
    return true;
  }
  type_error(key, *node, expected);
  return false;
}

bool table_reader::read_path(std::string_view key, std::filesystem::path& out) {
  std::string s;
  const toml::node* node = table_.get(key);
  if (!read_string(key, s, "a file path (string)")) return false;
  // TOML allows "\u0000"; the OS would silently cut the path there.
  if (s.find('\0') != std::string::npos) {
    errors_.add(node->source().begin, fmt::format("{} contains a NUL character; expected a file path",
                                                  name(key)));
    return false;
  }
  out = s;
  return true;
}

std::optional<size_t> table_reader::read_choice(std::string_view key,
                                                std::span<const std::string_view> allowed) {
  std::string list;
  for (auto a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", quote(a));
  std::string s;
  const toml::node* node = table_.get(key);
  if (!read_string(key, s, fmt::format("a string, one of: {}", list))) return std::nullopt;
  for (size_t i = 0; i < allowed.size(); ++i)
    if (allowed[i] == s) return i;
  std::string message =
      fmt::format("{} = {} is not allowed; expected one of: {}", name(key), quote(s), list);
  if (auto hint = closest_match(s, allowed)) message += fmt::format("; did you mean {}?", quote(*hint));
  errors_.add(node->source().begin, std::move(message));
  return std::nullopt;
}

const toml::table* table_reader::read_table(std::string_view key) {
  const toml::node* node = lookup(key, key_kind::table);
  if (!node) return nullptr;
  if (auto* t = node->as_table()) return t;
  type_error(key, *node, fmt::format("a table {}", display(key, key_kind::table)));
  return nullptr;
}

const toml::array* table_reader::read_array_of_tables(std::string_view key) {
  const toml::node* node = lookup(key, key_kind::array_of_tables);
  if (!node) return nullptr;
  std::string expected =
      fmt::format("an array of tables, each starting with {}", display(key, key_kind::array_of_tables));
  auto* a = node->as_array();
  if (!a) {
    // The common slip: [host] instead of [[host]].
    type_error(key, *node, expected);
    return nullptr;
  }
  bool ok = true;
  for (const toml::node& element : *a) {
    if (!element.is_table()) {
      errors_.add(element.source().begin,
                  fmt::format("an element of {} is {}; expected a table", name(key),
                              with_article(toml_type_name(element.type()))));
      ok = false;
    }
  }
  return ok ? a : nullptr;
}

const toml::array* table_reader::read_array(std::string_view key, std::string_view expected) {
  const toml::node* node = lookup(key, key_kind::value);
  if (!node) return nullptr;
  if (auto* a = node->as_array()) return a;
  type_error(key, *node, expected);
  return nullptr;
}

void table_reader::finish() {
  std::vector<std::string_view> known_names;
  std::string list;
  for (const auto& [key, kind] : known_) {
    known_names.push_back(key);
    list += fmt::format("{}{}", list.empty() ? "" : ", ", display(key, kind));
  }
  for (auto&& [key, node] : table_) {
    std::string_view k = key.str();
    if (std::find(known_names.begin(), known_names.end(), k) != known_names.end()) continue;
    std::string what;
    if (node.is_table())
      what = fmt::format("unknown table {}", display(k, key_kind::table));
    else if (node.is_array_of_tables())
      what = fmt::format("unknown table {}", display(k, key_kind::array_of_tables));
    else
      what = fmt::format("unknown key {}", quote(k));
    std::string where;
    switch (kind_) {
      case table_kind::root: where = " at top level"; break;
      case table_kind::table: where = fmt::format(" in [{}]", path_); break;
      case table_kind::array_element: where = fmt::format(" in [[{}]]", path_); break;
    }
    // "unknown table [limits.x] in [limits]" says the same thing twice.
    if (!node.is_table() && !node.is_array_of_tables()) what += where;
    std::string message = list.empty()
                              ? fmt::format("{}; expected no keys here", what)
                              : fmt::format("{}; expected one of: {}", what, list);
    if (auto hint = closest_match(k, known_names)) message += fmt::format("; did you mean {}?", quote(*hint));
    errors_.add(key.source().begin, std::move(message));
  }
}

}  // namespace starling::config
