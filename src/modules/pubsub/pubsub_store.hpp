#pragma once
// Storage of the PubSub engine: nodes (per service: a PEP account's bare JID or a pubsub
// component's domain), items in publication order, affiliations and subscriptions.
// Synchronous calls over an SQLite connection: the engine runs each request as one unit on the
// database writer thread (storage/sqlite.hpp run()), which serialises requests per database,
// so check-then-write sequences (max_items trimming, auto-create) need no further locking.
// Items survive restarts (XEP-0060 persistent items); everything of an account goes with it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modules/pubsub/pubsub_config.hpp"
#include "storage/storage.hpp"

namespace starling::storage {
class connection;
}

namespace starling::pubsub {

// XEP-0060 §4.1 affiliations, lowest to highest privilege.
enum class affiliation { outcast, none, member, publish_only, publisher, owner };
std::string_view to_string(affiliation a);
std::optional<affiliation> parse_affiliation(std::string_view s);

struct node_row {
  int64_t id = 0;
  std::string name;
  node_config config;
};

struct item_row {
  std::string id;
  std::string publisher;  // full JID of the publisher
  std::string payload;    // the payload element(s), serialized (stored_xml)
  int64_t published = 0;  // unix milliseconds
};

struct subscription_row {
  std::string node;
  std::string jid;  // as subscribed (bare or full)
  std::string subid;
};

// The last item of a node, for last-item delivery (XEP-0163 §4.3.4).
struct last_item {
  node_row node;
  item_row item;
  affiliation aff = affiliation::none;  // of the asking JID on that node
};

// Schema steps of module "pubsub".
std::vector<storage::migration> migrations();

class store {
 public:
  explicit store(storage::connection& c) : c_(c) {}

  std::optional<node_row> find_node(const std::string& service, const std::string& node);
  std::vector<node_row> nodes(const std::string& service);
  size_t node_count(const std::string& service);
  node_row create_node(const std::string& service, const std::string& node, const node_config& cfg);
  void update_config(int64_t node_id, const node_config& cfg);
  void delete_node(int64_t node_id);

  // Stores (or overwrites: the item becomes the newest, XEP-0060 §12.1) and drops the oldest
  // items beyond `keep`.
  void put_item(int64_t node_id, const item_row& it, uint64_t keep);
  // Newest first; at most `max` (0: all).
  std::vector<item_row> items(int64_t node_id, uint64_t max = 0);
  std::optional<item_row> item(int64_t node_id, const std::string& item_id);
  bool retract(int64_t node_id, const std::string& item_id);
  void purge(int64_t node_id);
  // Drops items beyond `keep` (after max_items was lowered).
  void trim(int64_t node_id, uint64_t keep);

  affiliation affiliation_of(int64_t node_id, const std::string& bare);
  // (bare JID, affiliation) of every explicit affiliation of the node.
  std::vector<std::pair<std::string, affiliation>> affiliations(int64_t node_id);
  // (node, affiliation) of `bare` on every node of the service.
  std::vector<std::pair<std::string, affiliation>> affiliations_of(const std::string& service, const std::string& bare);
  void set_affiliation(int64_t node_id, const std::string& bare, affiliation a);

  std::vector<subscription_row> subscriptions(int64_t node_id);
  std::vector<subscription_row> subscriptions_of(const std::string& service, const std::string& bare);
  std::optional<subscription_row> subscription(int64_t node_id, const std::string& jid);
  void subscribe(int64_t node_id, const std::string& jid, const std::string& subid);
  bool unsubscribe(int64_t node_id, const std::string& jid);

  // Every node of `service` that has items, with its newest item and the affiliation of
  // `bare` on it.
  std::vector<last_item> last_items(const std::string& service, const std::string& bare);

  // An account is gone: its services and its affiliations and subscriptions elsewhere.
  void remove_account(const std::string& bare);

 private:
  storage::connection& c_;
};

}  // namespace starling::pubsub
