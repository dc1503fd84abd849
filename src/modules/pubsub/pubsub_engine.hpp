#pragma once
// XEP-0060: Publish-Subscribe — the request engine shared by the per-account PEP services
// (XEP-0163, modules/pep) and, later, a pubsub.<host> component. It knows nothing of rosters,
// sessions or caps: the binding tells it who asks (owner? presence subscription? roster
// groups?) and gets back the IQ reply plus the events to fan out, which it addresses itself
// (XEP-0163 §4.3 for PEP). One call handles one request on the database writer thread.
//
// Implemented: auto-create on publish, create (with <configure/>), publish with item ids
// (generated if absent) and publish-options preconditions (§7.1.5), retract (with notify),
// purge, delete, configure get/set, default configuration, items (all, by id, max_items),
// subscribe/unsubscribe (explicit subscriptions), entity subscriptions/affiliations, owner
// management of subscriptions and affiliations (owner, publisher, publish-only, member, outcast),
// errors with the pubsub#errors conditions of §6–§8.
// Not implemented: collection nodes, subscription options (§6.3) and pending/authorize
// subscriptions (feature-not-implemented), item expiry, instant nodes (PEP needs a NodeID).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/stanza.hpp"
#include "jid/jid.hpp"
#include "modules/pubsub/pubsub_config.hpp"
#include "modules/pubsub/pubsub_store.hpp"
#include "xml/element.hpp"

namespace starling::pubsub {

// Who sends the request, as the binding knows them.
struct requester {
  jid from;                          // the sender's full JID
  bool is_owner = false;             // owns the service (PEP: the account itself)
  bool has_presence_sub = false;     // PEP: subscription from/both in the owner's roster
  std::vector<std::string> groups;   // PEP: roster groups of the sender at the owner
};

struct service_limits {
  uint64_t max_items = 256;            // what "max" means, and the highest accepted number
  size_t max_payload_bytes = 64 * 1024;  // serialized payload of one item
  size_t max_nodes = 1000;             // nodes per service
};

struct service_policy {
  // PEP (XEP-0163 §3): only the owner creates nodes and publishes, nodes are created on first
  // publish ("auto-create"), and the owner is the service's bare JID.
  bool pep = true;
  service_limits limits;
  node_config defaults;
};

// Something the binding must tell subscribers about (XEP-0060 §7.1.2, §7.2.2, §8.2.5.3,
// §8.4.2, §8.5.2), with what it needs to decide who may see it.
struct event {
  enum class kind { items, retract, purge, deleted, configuration };
  kind what = kind::items;
  std::string node;
  node_config config;
  std::vector<item_row> items;         // items: the published item
  std::vector<std::string> retracted;  // retract: item ids
  std::vector<std::pair<std::string, affiliation>> affiliations;  // of the node, for access checks
  std::vector<subscription_row> subscriptions;                     // explicit subscribers
};

struct outcome {
  xml::element reply;          // the IQ result or error
  std::vector<event> events;   // to fan out
  // XEP-0060 §6.1.7: a new subscription asks for the last item: delivered to `last_to`.
  std::optional<event> last;
  std::string last_to;
};

// Why `r` may not read a node (XEP-0060 §6.1.3 / §6.5.9), or allowed.
enum class access_result { allowed, outcast, presence_required, not_in_group, closed_node };
access_result check_access(const node_config& cfg, affiliation a, const requester& r);

// Handles one pubsub or pubsub#owner IQ (get/set) addressed to `service`. `now_ms`: unix ms.
outcome handle(store& st, const std::string& service, const requester& r, const service_policy& p,
               const xml::element& iq, int64_t now_ms);

// <event xmlns='...pubsub#event'/> for `e` (payloads included if the node delivers them).
xml::element event_payload(const event& e);
// The notification message from `from` to `to` carrying `e` (type headline unless configured
// as normal). `delay_stamp`: XEP-0203 delay for a last-published item (XEP-0060 §6.1.7).
xml::element notification(const event& e, const std::string& from, const std::string& to,
                          std::string_view delay_stamp = {});

// <error/> reply with a pubsub#errors application condition (XEP-0060 §6–§8), e.g.
// conflict + <precondition-not-met/>; `feature` for <unsupported feature='...'/>.
xml::element pubsub_error(const xml::element& iq, stanza_condition c, std::string_view app = {},
                          std::string_view feature = {});

}  // namespace starling::pubsub
