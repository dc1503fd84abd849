#pragma once
// XEP-0059 Result Set Management: the request <set/> a client puts in a query and the reply
// <set/> the server returns. Shared by MAM (XEP-0313), PubSub (XEP-0060 §6.5.4) and disco.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling::proto {

inline constexpr std::string_view ns_rsm = "http://jabber.org/protocol/rsm";

struct rsm_request {
  std::optional<uint64_t> max;          // <max/>; 0 asks for the count only (§2.6)
  std::optional<std::string> after;     // <after>UID</after> (§2.2)
  std::optional<std::string> before;    // <before>UID</before>; empty string: last page (§2.5)
  std::optional<uint64_t> index;        // <index/>: page out of order (§2.6)
};

enum class rsm_error {
  none,
  bad_number,      // <max/> or <index/> not a non-negative integer
  empty_after,     // <after/> must carry a UID
  duplicate,       // an element given twice
};

// Parses <set xmlns='http://jabber.org/protocol/rsm'/>. Unknown children are ignored
// (XEP-0059 leaves room for extensions). On failure nullopt and `err` set.
std::optional<rsm_request> parse_rsm(const xml::element& set, rsm_error& err);

struct rsm_reply {
  std::optional<std::string> first;
  std::optional<uint64_t> first_index;
  std::optional<std::string> last;
  std::optional<uint64_t> count;
};

// <set xmlns=rsm><first index=''>..</first><last>..</last><count>..</count></set>; first and
// last only when the page is not empty (§2.2).
xml::element make_rsm_reply(const rsm_reply& r);

}  // namespace starling::proto
