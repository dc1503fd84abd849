#pragma once
// What the server says about itself in XEP-0030 disco#info; modules add their features here
// at start-up so the list always matches what is loaded.
#include <set>
#include <string>
#include <vector>

namespace starling {

struct disco_identity {
  std::string category;
  std::string type;
  std::string name;
  bool operator<(const disco_identity& o) const {
    return std::tie(category, type, name) < std::tie(o.category, o.type, o.name);
  }
};

class disco_registry {
 public:
  void add_feature(std::string var) { features_.insert(std::move(var)); }
  void add_identity(disco_identity id) { identities_.insert(std::move(id)); }
  // Features offered on account JIDs (user@host) rather than the server.
  void add_account_feature(std::string var) { account_features_.insert(std::move(var)); }
  const std::set<std::string>& features() const { return features_; }
  const std::set<disco_identity>& identities() const { return identities_; }
  const std::set<std::string>& account_features() const { return account_features_; }

 private:
  std::set<std::string> features_;
  std::set<disco_identity> identities_;
  std::set<std::string> account_features_;
};

}  // namespace starling
