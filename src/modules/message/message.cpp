// RFC 6121 §8.5: delivery of <message/> stanzas addressed to local accounts (bare or full JID,
// and messages without 'to', which RFC 6120 §10.3.1 addresses to the sender's bare JID).
// Decides per message type and resource availability; messages that no available resource can
// take go to XEP-0160 storage when the offline module is loaded (src/modules/offline/).
// Not here: presence and IQ routing (presence and core), federation (remote 'to').
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <mutex>
#include <spdlog/spdlog.h>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/message/message_api.hpp"

namespace starling::modules {

message_type message_type_of(const xml::element& msg) {
  // RFC 6121 §5.2.2: no 'type', or a value the server does not understand, means normal.
  std::string_view t = msg.attr_or("type");
  if (t == "chat") return message_type::chat;
  if (t == "groupchat") return message_type::groupchat;
  if (t == "headline") return message_type::headline;
  if (t == "error") return message_type::error;
  return message_type::normal;
}

message_route decide_message_route(const xml::element& msg, const jid& to,
                                   const std::vector<resource_info>& resources) {
  using action = message_route::action;
  const message_type type = message_type_of(msg);
  message_route r;

  if (to.has_resource()) {
    // RFC 6121 §8.5.3.1: a connected resource that exactly matches the full JID gets the
    // message, whatever its type (error replies to that resource included), even before it
    // sent presence.
    for (const auto& res : resources)
      if (res.full == to) {
        r.what = action::deliver;
        r.targets.push_back(to);
        return r;
      }
    // RFC 6121 §8.5.3.2.1: no such resource.
    if (type == message_type::error) return r;  // silently ignore
    if (type == message_type::groupchat) {
      r.what = action::service_unavailable;
      return r;
    }
    // normal, chat, headline: treated as if addressed to the bare JID (§8.5.2).
  }

  // RFC 6121 §8.5.2: only available resources with non-negative priority count.
  int best = -1;
  for (const auto& res : resources)
    if (res.available && res.priority >= 0 && res.priority > best) best = res.priority;

  switch (type) {
    case message_type::error:
      // §8.5.2.1.1 / §8.5.2.2.1: an error to a bare JID is silently ignored.
      return r;
    case message_type::groupchat:
      // §8.5.2.1.1 / §8.5.2.2.1: nobody can be in a room through a bare JID.
      r.what = action::service_unavailable;
      return r;
    case message_type::headline:
      if (best < 0) {
        // §8.5.2.2.1: silently ignored (not stored: XEP-0160 §3); but §8.5.1 still applies if
        // the account does not exist, which only the account store can tell.
        r.what = resources.empty() ? action::drop_if_account : action::drop;
        return r;
      }
      // §8.5.2.1.1: headline to every available resource with non-negative priority.
      r.what = action::deliver;
      for (const auto& res : resources)
        if (res.available && res.priority >= 0) r.targets.push_back(res.full);
      return r;
    case message_type::normal:
    case message_type::chat:
      if (best < 0) {
        // §8.5.2.2.1: store offline (XEP-0160) or bounce.
        r.what = action::offline;
        return r;
      }
      // §8.5.2.1.1: for both normal and chat we choose the "highest priority" option: every
      // available resource that shares the highest non-negative priority (ties get a copy).
      // XEP-0280 carbons, when added, give the other resources their copies.
      r.what = action::deliver;
      for (const auto& res : resources)
        if (res.available && res.priority == best) r.targets.push_back(res.full);
      return r;
  }
  return r;
}

namespace {
std::mutex sinks_mutex;
std::map<const server*, offline_sink*>& sinks() {
  static std::map<const server*, offline_sink*> m;
  return m;
}

// RFC 6120 §8.3.1: an error back to the sender of `original` (a local full JID); errors are
// never answered with errors.
void bounce(server& srv, const xml::element& original, stanza_condition c) {
  if (is_error(original)) return;
  auto reply = make_error_reply(original, c);
  if (auto to = jid::parse(reply.attr_or("to"))) srv.deliver_to_full(*to, reply);
}
}  // namespace

void set_offline_sink(server& srv, offline_sink* sink) {
  std::lock_guard lock(sinks_mutex);
  if (sink)
    sinks()[&srv] = sink;
  else
    sinks().erase(&srv);
}

offline_sink* find_offline_sink(server& srv) {
  std::lock_guard lock(sinks_mutex);
  auto it = sinks().find(&srv);
  return it == sinks().end() ? nullptr : it->second;
}

class message_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    srv.hooks().local_delivery.add(0, [this](xml::element& st, const jid& to) { return on_local(st, to); });
  }
  void stop() override { pool_.join(); }

 private:
  hook_result on_local(xml::element& st, const jid& to) {
    if (st.name() != "message") return hook_result::next;
    const jid bare = to.bare();
    auto route = decide_message_route(st, to, srv_->sessions().resources(bare));
    using action = message_route::action;
    switch (route.what) {
      case action::deliver: {
        std::vector<jid> delivered;
        for (const auto& t : route.targets)
          if (srv_->deliver_to_full(t, st)) delivered.push_back(t);
        // The resources went away since we looked: as if none had been available.
        if (delivered.empty()) {
          const auto type = message_type_of(st);
          if (type == message_type::normal || type == message_type::chat) take_offline(st, bare);
        }
        srv_->hooks().message_delivered.run(st, to, delivered);
        break;
      }
      case action::offline:
        take_offline(st, bare);
        srv_->hooks().message_delivered.run(st, to, {});
        break;
      case action::service_unavailable:
        bounce(*srv_, st, stanza_condition::service_unavailable);
        break;
      case action::drop:
        break;
      case action::drop_if_account: {
        srv_->spawn(pool_, check_account(srv_, st, bare));
        break;
      }
    }
    return hook_result::stop;
  }

  void take_offline(const xml::element& st, const jid& bare) {
    if (auto* sink = find_offline_sink(*srv_)) {
      sink->take(st, bare);
    } else {
      // RFC 6121 §8.5.2.2.1: without offline storage the server returns service-unavailable.
      bounce(*srv_, st, stanza_condition::service_unavailable);
    }
  }

  // RFC 6121 §8.5.1: a message to an account that does not exist gets service-unavailable.
  static boost::asio::awaitable<void> check_account(server* srv, xml::element st, jid bare) {
    try {
      auto acc = co_await srv->db().accounts().get(bare.domain(), bare.local());
      if (!acc) bounce(*srv, st, stanza_condition::service_unavailable);
    } catch (const std::exception& e) {
      spdlog::warn("message: account check for {} failed: {}", bare.str(), e.what());
    }
  }

  server* srv_ = nullptr;
  // Account checks run here, off the network threads' routing path.
  boost::asio::thread_pool pool_{1};
};

}  // namespace starling::modules

using starling::modules::message_module;
STARLING_MODULE(message_module, "message")
