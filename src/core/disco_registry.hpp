#pragma once
// What the server says about itself in XEP-0030 disco#info; modules add their features here
// at start-up so the list always matches what is loaded.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/iq_table.hpp"

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

  // A disco node on account JIDs (XEP-0030 §3.2 'node'), e.g. XEP-0013's offline node: the
  // handlers answer the whole disco#info / disco#items query themselves. Unregistered nodes
  // get <item-not-found/>.
  struct account_node {
    iq_handler info;
    iq_handler items;
  };
  void add_account_node(std::string node, account_node handlers) {
    account_nodes_[std::move(node)] = std::move(handlers);
  }
  const account_node* find_account_node(std::string_view node) const {
    auto it = account_nodes_.find(node);
    return it == account_nodes_.end() ? nullptr : &it->second;
  }

 private:
  std::set<std::string> features_;
  std::set<disco_identity> identities_;
  std::set<std::string> account_features_;
  std::map<std::string, account_node, std::less<>> account_nodes_;
};

}  // namespace starling
