#pragma once
// XEP-0115 §5: the verification string of a disco#info result, as a pure function so that the
// caps module and its tests share it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace starling::modules {

inline constexpr std::string_view ns_caps = "http://jabber.org/protocol/caps";
inline constexpr std::string_view ns_disco_info = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view ns_data_forms = "jabber:x:data";

// The string S of XEP-0115 §5.1 for a disco#info <query/>, or nullopt when §5.4 step 3.3-3.5
// calls the response ill-formed (duplicate identities, features or FORM_TYPEs, a FORM_TYPE with
// differing values). Forms without a hidden FORM_TYPE are skipped (§5.4 step 3.6).
std::optional<std::string> caps_string(const xml::element& query);

// base64(hash(S)) for a hash name of the IANA "Hash Function Textual Names" registry that we
// support (sha-1, sha-224, sha-256, sha-384, sha-512); nullopt for others or ill-formed input.
std::optional<std::string> caps_ver(const xml::element& query, std::string_view hash_name);
bool is_supported_caps_hash(std::string_view hash_name);

// The features (var attributes) of a disco#info <query/>, sorted and deduplicated.
std::vector<std::string> disco_features(const xml::element& query);

}  // namespace starling::modules
