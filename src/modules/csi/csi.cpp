// XEP-0352 Client State Indication: an inactive client (a phone in a pocket) gets presence
// updates and chat-state notifications held back; they go out, in order, when it becomes active
// again, or just before anything urgent (a message with a body, an IQ) so that the order of
// stanzas never changes (RFC 6120 §10.1). Several presence updates from one sender are merged
// into the newest. The queue is bounded ([stream_management] csi_max_queue): when full, it is
// flushed. The state is per stream: a resumed stream starts active (XEP-0352 §6).
#include <spdlog/spdlog.h>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/csi/csi_api.hpp"
#include "modules/csi/csi_queue.hpp"

namespace starling::modules::csi {

namespace {
struct csi_state {
  bool inactive = false;
  std::unique_ptr<held_queue> held;
};

void flush(c2s_session& s, csi_state& st) {
  if (!st.held) return;
  for (const auto& el : st.held->take()) s.send_now(el);
}
}  // namespace

bool apply_state(c2s_session& s, const xml::element& el) {
  if (el.ns() != ns_csi) return false;
  auto& st = s.slot<csi_state>();
  if (el.name() == "inactive") {
    st.inactive = true;
    if (!st.held) st.held = std::make_unique<held_queue>(s.srv().cfg().sm.csi_max_queue);
    return true;
  }
  if (el.name() == "active") {
    st.inactive = false;
    flush(s, st);
    return true;
  }
  return false;
}

class csi_module : public module {
 public:
  // XEP-0386: <inactive/> (or <active/>) inline in the Bind 2 request.
  static boost::asio::awaitable<void> bind2_inline(c2s_session& s, const xml::element& req, xml::element&) {
    apply_state(s, req);
    co_return;
  }

  void start(server& srv) override {
    srv.bind2().add(std::string(ns_csi), bind2_inline);
    srv.add_feature([](c2s_session&, feature_stage stage, xml::element& f) {
      // XEP-0352 §3: advertised once the client is authenticated.
      if (stage == feature_stage::after_auth) f.add("csi", std::string(ns_csi));
    });
    srv.hooks().stream_element.add(0, [](c2s_session& s, xml::element& el) {
      if (el.ns() != ns_csi) return hook_result::next;
      if (!apply_state(s, el)) s.close(stream_condition::unsupported_stanza_type);
      return hook_result::stop;
    });
    srv.hooks().outbound_stanza.add(0, [](c2s_session& s, const xml::element& el) {
      auto& st = s.slot<csi_state>();
      if (!st.inactive) return hook_result::next;
      if (can_wait(el)) {
        if (st.held->hold(el)) return hook_result::stop;
        flush(s, st);  // full: everything goes out, this one after the rest
        return hook_result::next;
      }
      // Urgent: what was held goes first, so the client sees stanzas in order.
      flush(s, st);
      return hook_result::next;
    });
    srv.hooks().session_resumed.add(0, [](c2s_session& s, const c2s_session&) {
      // XEP-0352 §6: a resumed stream is active; what was held goes out after the resumption.
      auto& st = s.slot<csi_state>();
      st.inactive = false;
      if (st.held)
        for (const auto& el : st.held->take()) s.send(el);
      return hook_result::next;
    });
  }
};

}  // namespace starling::modules::csi

using starling::modules::csi::csi_module;
STARLING_MODULE(csi_module, "csi")
