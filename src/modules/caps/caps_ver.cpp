#include "modules/caps/caps_ver.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "util/base64.hpp"

namespace starling::modules {

namespace {

const EVP_MD* digest_for(std::string_view name) {
  if (name == "sha-1") return EVP_sha1();
  if (name == "sha-224") return EVP_sha224();
  if (name == "sha-256") return EVP_sha256();
  if (name == "sha-384") return EVP_sha384();
  if (name == "sha-512") return EVP_sha512();
  return nullptr;  // md5 and others: not trusted for caps (XEP-0115 §8.4 recommends SHA-1 or better)
}

}  // namespace

bool is_supported_caps_hash(std::string_view hash_name) { return digest_for(hash_name) != nullptr; }

std::optional<std::string> caps_string(const xml::element& query) {
  // §5.1 note: all sorting is "i;octet" (RFC 4790 §9.3), i.e. std::string's byte comparison.
  using identity = std::tuple<std::string, std::string, std::string, std::string>;  // cat, type, lang, name
  std::vector<identity> identities;
  std::vector<std::string> features;
  // FORM_TYPE -> fields (var -> values); each form's fields keep duplicates as sent.
  std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> forms;

  for (const xml::element* e : query.elements()) {
    if (e->is("identity", ns_disco_info)) {
      const std::string* lang = e->attr_ns(xml::ns_xml, "lang");
      identities.emplace_back(std::string(e->attr_or("category")), std::string(e->attr_or("type")),
                              lang ? *lang : std::string(), std::string(e->attr_or("name")));
    } else if (e->is("feature", ns_disco_info)) {
      features.emplace_back(e->attr_or("var"));
    } else if (e->is("x", ns_data_forms)) {
      std::optional<std::string> form_type;
      bool hidden = false;
      std::vector<std::pair<std::string, std::vector<std::string>>> fields;
      for (const xml::element* f : e->elements()) {
        if (!f->is("field", ns_data_forms)) continue;
        std::vector<std::string> values;
        for (const xml::element* v : f->elements())
          if (v->is("value", ns_data_forms)) values.push_back(v->text());
        if (f->attr_or("var") == "FORM_TYPE") {
          // §5.4 step 3.5: several values must all be the same.
          if (values.empty()) continue;
          for (const auto& v : values)
            if (v != values.front()) return std::nullopt;
          form_type = values.front();
          hidden = f->attr_or("type") == "hidden";
          continue;
        }
        fields.emplace_back(std::string(f->attr_or("var")), std::move(values));
      }
      // §5.4 step 3.6: a form without a hidden FORM_TYPE is ignored.
      if (!form_type || !hidden) continue;
      // §5.4 step 3.5: two forms with the same FORM_TYPE make the response ill-formed.
      if (!forms.emplace(*form_type, std::move(fields)).second) return std::nullopt;
    }
  }

  // §5.4 steps 3.3 and 3.4: duplicates make the whole response ill-formed.
  std::sort(identities.begin(), identities.end());
  if (std::adjacent_find(identities.begin(), identities.end()) != identities.end()) return std::nullopt;
  std::sort(features.begin(), features.end());
  if (std::adjacent_find(features.begin(), features.end()) != features.end()) return std::nullopt;

  std::string s;
  // §5.1 steps 2-3: category/type/lang/name<, sorted by category, type, lang (then name).
  for (const auto& [category, type, lang, name] : identities) {
    s += category;
    s += '/';
    s += type;
    s += '/';
    s += lang;
    s += '/';
    s += name;
    s += '<';
  }
  // §5.1 steps 4-5.
  for (const auto& f : features) {
    s += f;
    s += '<';
  }
  // §5.1 steps 6-7: forms by FORM_TYPE (the map's order), fields by var, values sorted.
  for (auto& [form_type, fields] : forms) {
    s += form_type;
    s += '<';
    std::stable_sort(fields.begin(), fields.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [var, values] : fields) {
      s += var;
      s += '<';
      std::sort(values.begin(), values.end());
      for (const auto& v : values) {
        s += v;
        s += '<';
      }
    }
  }
  return s;
}

std::optional<std::string> caps_ver(const xml::element& query, std::string_view hash_name) {
  const EVP_MD* md = digest_for(hash_name);
  if (!md) return std::nullopt;
  auto s = caps_string(query);
  if (!s) return std::nullopt;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // §5.1 steps 8-9: UTF-8 (the parser's text already is), binary digest, base64 with padding.
  if (EVP_Digest(s->data(), s->size(), out, &len, md, nullptr) != 1) return std::nullopt;
  return util::base64_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::vector<std::string> disco_features(const xml::element& query) {
  std::set<std::string> out;
  for (const xml::element* e : query.elements())
    if (e->is("feature", ns_disco_info)) out.emplace(e->attr_or("var"));
  return {out.begin(), out.end()};
}

}  // namespace starling::modules
