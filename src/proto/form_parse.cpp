// Strict parsing of submitted forms with error codes and the element builders used by the
// query protocols (XEP-0313, XEP-0059 users), plus XEP-0082 DateTime. (The form model and its
// general parser are in data_form.cpp.)
#include "proto/data_form.hpp"

#include <fmt/format.h>

#include <set>

namespace starling::proto {

namespace {
// XEP-0004 §3.3: types that carry at most one value.
bool is_single_valued(std::string_view type) {
  return type == "boolean" || type == "fixed" || type == "hidden" || type == "jid-single" ||
         type == "list-single" || type == "text-private" || type == "text-single";
}

bool is_form_type(std::string_view t) { return t == "form" || t == "submit" || t == "cancel" || t == "result"; }
}  // namespace

std::optional<data_form> parse_form(const xml::element& x, form_error& err, const form_limits& limits) {
  err = form_error::none;
  data_form form;
  form.type = std::string(x.attr_or("type"));
  if (!is_form_type(form.type)) {
    err = form_error::bad_type;
    return std::nullopt;
  }
  std::set<std::string, std::less<>> seen;
  for (const xml::element* child : x.elements()) {
    if (!child->is("field", ns_data)) continue;  // title, instructions, reported, item
    if (form.fields.size() >= limits.max_fields) {
      err = form_error::too_large;
      return std::nullopt;
    }
    form_field f;
    f.var = std::string(child->attr_or("var"));
    f.type = std::string(child->attr_or("type"));
    if (f.var.empty()) {
      // XEP-0004 §3.2: only 'fixed' fields may lack a var (and only in forms for humans).
      if (f.type == "fixed") continue;
      err = form_error::field_without_var;
      return std::nullopt;
    }
    if (!seen.insert(f.var).second) {
      err = form_error::duplicate_field;
      return std::nullopt;
    }
    for (const xml::element* v : child->elements()) {
      if (!v->is("value", ns_data)) continue;
      if (f.values.size() >= limits.max_values) {
        err = form_error::too_many_values;
        return std::nullopt;
      }
      f.values.push_back(v->text());
    }
    if (is_single_valued(f.type) && f.values.size() > 1) {
      err = form_error::too_many_values;
      return std::nullopt;
    }
    form.fields.push_back(std::move(f));
  }
  return form;
}

xml::element make_form(std::string_view type, std::string_view form_type) {
  xml::element x("x", std::string(ns_data));
  x.set_attr("type", std::string(type));
  if (!form_type.empty()) add_field(x, "FORM_TYPE", "hidden", {std::string(form_type)});
  return x;
}

xml::element& add_field(xml::element& form, std::string_view var, std::string_view type,
                        const std::vector<std::string>& values) {
  auto& f = form.add("field", std::string(ns_data));
  if (!type.empty()) f.set_attr("type", std::string(type));
  f.set_attr("var", std::string(var));
  for (const auto& v : values) f.add("value", std::string(ns_data)).add_text(v);
  return f;
}

namespace {
bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
}  // namespace

std::optional<int64_t> parse_xep0082_datetime(std::string_view s) {
  // CCYY-MM-DDThh:mm:ss[.sss]TZD (XEP-0082 §3.2)
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || s[10] != 'T' || !digits(s, 11, 2, hour) || s[13] != ':' ||
      !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
    return std::nullopt;
  static constexpr int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > mdays[month - 1] + (month == 2 && leap(year) ? 1 : 0)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: leap second
  size_t pos = 19;
  int64_t micros = 0;
  if (s[pos] == '.') {
    ++pos;
    size_t n = 0;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) micros += (s[pos] - '0') * scale, scale /= 10;
      ++pos, ++n;
    }
    if (n == 0 || n > 32) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                 hour * 3600 + minute * 60 + second - offset;
  return secs * 1000000 + micros;
}

std::string format_xep0082_datetime(int64_t micros) {
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t frac = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (frac == 0)
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rem / 3600, rem % 3600 / 60, rem % 60);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", y, m, d, rem / 3600, rem % 3600 / 60, rem % 60,
                     frac);
}

}  // namespace starling::proto
