#pragma once
// What the presence module asks of the roster module beyond roster_api.hpp: subscription
// transitions with their roster pushes (RFC 6121 §3), pending requests, and push delivery.
#include <boost/asio/awaitable.hpp>

#include "modules/roster/roster_store.hpp"

namespace starling {
class c2s_session;
namespace xml {
class element;
}
}  // namespace starling

namespace starling::roster {

// Applies `type` sent (outbound) or received (inbound) by `owner` about `contact` in one store
// transaction, then pushes the changed item to the owner's interested resources (RFC 6121
// §2.1.6). Throws on storage failure.
boost::asio::awaitable<apply_result> apply_subscription(server& srv, jid owner, jid contact, sub_type type,
                                                        bool is_outbound, std::string status);
// RFC 6121 §3.1.3: inbound requests awaiting the user's answer.
boost::asio::awaitable<std::vector<pending_request>> pending_requests(server& srv, jid owner);
// presence_contacts() and pending_requests() of `owner` (bare) in one read: what an initial
// presence needs (RFC 6121 §4.2.2, §3.1.3).
boost::asio::awaitable<roster_store::initial_presence_data> initial_presence_data(server& srv, jid owner);

// RFC 6121 §2.1.6: sends a roster push of `it` to every resource of `owner` that requested the
// roster. `removed`: subscription='remove'. `current`: the session whose thread is calling, if
// any; it gets its push at once, ahead of the IQ result that follows (RFC 6121 §2.3.2 order).
void push(server& srv, const jid& owner, const item& it, int64_t ver, bool removed = false,
          c2s_session* current = nullptr);

// <item/> as it appears in roster results and pushes.
xml::element item_element(const item& it, bool removed = false);

}  // namespace starling::roster
