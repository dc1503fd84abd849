#pragma once
// What the server says about itself in XEP-0030 disco#info; modules add their features here
// at start-up so the list always matches what is loaded.
#include <boost/asio/awaitable.hpp>
#include <functional>
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
  // Identities of account JIDs beside account/registered (e.g. pubsub/pep, XEP-0163 §5).
  void add_account_identity(disco_identity id) { account_identities_.insert(std::move(id)); }
  const std::set<disco_identity>& account_identities() const { return account_identities_; }
  // Items of an account JID (disco#items without a node, XEP-0030 §4.2): each provider appends
  // <item/> elements to `query` for the request (who asks: req.from; which account: req.to),
  // e.g. the PEP nodes the asker may see (XEP-0163 §5). The account is known to exist or to be
  // the asker's own. Register at start-up.
  using account_items_provider = std::function<boost::asio::awaitable<void>(iq_request&, xml::element& query)>;
  void add_account_items(account_items_provider p) { account_items_.push_back(std::move(p)); }
  const std::vector<account_items_provider>& account_items() const { return account_items_; }
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
  std::set<disco_identity> account_identities_;
  std::vector<account_items_provider> account_items_;
  std::map<std::string, account_node, std::less<>> account_nodes_;
};

}  // namespace starling
