// libFuzzer target for JID parsing (RFC 7622) and the PRECIS profiles beneath it. Beyond "no
// crash, no sanitizer report", it checks the properties the server relies on: enforcement is
// idempotent (a stored or routed JID parses back to itself, RFC 8264 §7 expects profiles to be
// idempotent), parts respect their bounds, and the A-label form maps back to the same domain.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "jid/jid.hpp"
#include "precis/precis.hpp"

namespace {

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "jid_fuzz: %s failed for %zu-octet input\n", what, input.size());
  std::abort();
}

void check_profile_idempotent(std::optional<std::string> (*profile)(std::string_view),
                              std::string_view in, const char* name) {
  std::optional<std::string> once = profile(in);
  if (!once) return;
  check(starling::precis::is_valid_utf8(*once), name, in);
  check(profile(*once) == once, name, in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  if (std::optional<starling::jid> j = starling::jid::parse(in)) {
    check(!j->domain().empty() && j->domain().size() <= 1023, "domain bounds", in);
    check(j->local().size() <= 1023 && j->resource().size() <= 1023, "part bounds", in);
    check(j->local().find_first_of("\"&'/:<>@") == std::string::npos, "localpart exclusions",
          in);
    check(j->domain().find_first_of("@/") == std::string::npos, "domain separators", in);
    std::optional<starling::jid> again = starling::jid::parse(j->str());
    check(again == j, "jid idempotence", in);
    check(starling::jid::parse(j->bare_str()) == j->bare(), "bare round trip", in);
    check(starling::jid::from_parts(j->local(), j->domain(), j->resource()) == j,
          "from_parts round trip", in);
  }

  check_profile_idempotent(starling::precis::username_case_mapped, in, "UsernameCaseMapped");
  check_profile_idempotent(starling::precis::username_case_preserved, in,
                           "UsernameCasePreserved");
  check_profile_idempotent(starling::precis::opaque_string, in, "OpaqueString");
  check_profile_idempotent(starling::precis::domain, in, "domain");
  if (std::optional<std::string> d = starling::precis::domain(in)) {
    std::optional<std::string> ascii = starling::precis::domain_to_ascii(*d);
    check(ascii.has_value(), "domain_to_ascii of a prepared domain", in);
    check(ascii->size() <= 253, "A-label length", in);
    check(starling::precis::domain(*ascii) == d, "A-label round trip", in);
    check(starling::precis::domain_to_ascii(in) == ascii, "domain_to_ascii consistency", in);
  }
  return 0;
}
