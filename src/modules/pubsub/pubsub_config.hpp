#pragma once
// XEP-0060 §16.4.4 node configuration (pubsub#node_config) as a typed value: what a node's
// owner may set, its form representation, and the publish-options precondition check
// (XEP-0060 §7.1.5). Pure functions, unit-tested.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/data_form.hpp"

namespace starling::pubsub {

inline constexpr std::string_view ns_pubsub = "http://jabber.org/protocol/pubsub";
inline constexpr std::string_view ns_pubsub_owner = "http://jabber.org/protocol/pubsub#owner";
inline constexpr std::string_view ns_pubsub_event = "http://jabber.org/protocol/pubsub#event";
inline constexpr std::string_view ns_pubsub_errors = "http://jabber.org/protocol/pubsub#errors";
inline constexpr std::string_view ns_node_config = "http://jabber.org/protocol/pubsub#node_config";
inline constexpr std::string_view ns_publish_options = "http://jabber.org/protocol/pubsub#publish-options";

// XEP-0060 §4.5. 'authorize' is not offered (no pending subscriptions).
enum class access_model { open, presence, roster, whitelist };
// XEP-0060 §16.4.4 pubsub#publish_model.
enum class publish_model { publishers, subscribers, open };
// XEP-0060 §16.4.4 pubsub#send_last_published_item.
enum class send_last { never, on_sub, on_sub_and_presence };

std::string_view to_string(access_model m);
std::optional<access_model> parse_access_model(std::string_view s);

// pubsub#max_items: a number, or "max" (XEP-0060 §16.4.4, the `config-node-max` feature):
// as many as the service allows.
struct max_items_value {
  bool is_max = false;
  uint64_t n = 1;
  bool operator==(const max_items_value&) const = default;
};

struct node_config {
  std::string title;
  std::string type;  // pubsub#type: payload namespace, informational
  access_model access = access_model::presence;
  std::vector<std::string> roster_groups_allowed;
  publish_model publish = publish_model::publishers;
  max_items_value max_items;
  bool persist_items = true;
  bool deliver_notifications = true;
  bool deliver_payloads = true;
  bool notify_config = false;
  bool notify_delete = false;
  bool notify_retract = true;
  send_last send_last_published_item = send_last::on_sub_and_presence;
  bool notification_type_normal = false;  // pubsub#notification_type: headline (default) or normal

  // The number of items kept, `server_max` being the service's own limit.
  uint64_t effective_max(uint64_t server_max) const {
    uint64_t n = max_items.is_max ? server_max : std::min<uint64_t>(max_items.n, server_max);
    return persist_items ? n : 1;  // a transient node keeps only its last item (for last-item delivery)
  }
  bool operator==(const node_config&) const = default;
};

// The configuration form (type 'form', with options) for <configure/> and <default/>.
proto::data_form to_form(const node_config& c);

// Why a submitted form could not be applied.
enum class form_error { none, unknown_field, bad_value, over_limit };

// Applies the fields of a submitted node_config (or publish-options) form to `c`; the
// FORM_TYPE field is skipped. `server_max` bounds max_items. On error `c` may be partly changed.
form_error apply_form(node_config& c, const proto::data_form& f, uint64_t server_max);

// XEP-0060 §7.1.5: every field of the publish-options form must equal the node's
// configuration; unknown fields never match.
bool preconditions_met(const node_config& c, const proto::data_form& f, uint64_t server_max);

// Compact text form for storage (one "key=value" per line; lists joined with '\x1f').
std::string serialize(const node_config& c);
// Unknown keys are skipped (a newer version's data); bad values keep the default.
node_config deserialize(std::string_view text);

}  // namespace starling::pubsub
