#pragma once
// What the message router (RFC 6121 §8.5) offers other modules: the XEP-0160 hand-off for
// messages that no available resource can take, and the pure routing decision (unit-tested).
#include <string>
#include <string_view>
#include <vector>

#include "core/session_manager.hpp"
#include "jid/jid.hpp"
#include "xml/element.hpp"

namespace starling {
class server;
}

namespace starling::modules {

// Message types of RFC 6121 §5.2.2; anything else (or no 'type') counts as normal.
enum class message_type { normal, chat, groupchat, headline, error };
message_type message_type_of(const xml::element& msg);

// What to do with a message addressed to a local account.
struct message_route {
  enum class action {
    deliver,              // to every JID in `targets`
    offline,              // no available resource: XEP-0160 storage (normal/chat)
    service_unavailable,  // bounce <service-unavailable/> to the sender
    drop,                 // silently ignore
    drop_if_account,      // ignore if the account exists, else service-unavailable (§8.5.1)
  };
  action what = action::drop;
  std::vector<jid> targets;
};

// RFC 6121 §8.5.2 (bare JID) and §8.5.3 (full JID) for a message to `to`, given the account's
// bound resources. Does not know whether the account exists: with no resource at all the
// caller still checks (§8.5.1) before storing or dropping.
message_route decide_message_route(const xml::element& msg, const jid& to,
                                   const std::vector<resource_info>& resources);

// XEP-0160 storage, provided by the offline module. take() is called on any thread and does
// its work asynchronously: it checks that the account exists (else <service-unavailable/> to
// the sender, RFC 6121 §8.5.1), stores the message or bounces it when the store is full.
class offline_sink {
 public:
  virtual ~offline_sink() = default;
  virtual void take(xml::element msg, jid bare_to) = 0;
};

// Registration of the sink, per server (set in module::start(), cleared in stop()).
void set_offline_sink(server& srv, offline_sink* sink);
offline_sink* find_offline_sink(server& srv);

}  // namespace starling::modules
