// XEP-0313: Message Archive Management, user archives (urn:xmpp:mam:2 and #extended).
// Implemented: archiving of messages a local user sends (client_stanza) and receives
// (local_delivery, whatever the sender's server) per §6.1.1 and XEP-0334 hints; XEP-0359
// <stanza-id/> on delivered messages (forged ones claiming the archive stripped, origin-id
// kept); queries with every form field of §4.1 (with, start, end, before-id, after-id, ids),
// XEP-0059 paging (max, after, before incl. the last page, index, count), <flip-page/>,
// <fin complete/>, the metadata query (§5), XEP-0441 preferences (stored), retention by age
// and a per-user size cap (config [mam]); archives go with their account (foreign keys).
// Not implemented: MUC and PubSub archives, groupchat in user archives (no
// include-groupchat field, §4.1.4), XEP-0441 advanced configuration through ad-hoc commands.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/mam/mam_rules.hpp"
#include "modules/mam/mam_store.hpp"
#include "modules/offline/offline_codec.hpp"
#include "modules/roster/roster_api.hpp"
#include "proto/data_form.hpp"
#include "proto/mam_query.hpp"
#include "storage/batch_writer.hpp"
#include "util/random.hpp"

namespace starling::modules {
namespace asio = boost::asio;
using proto::ns_mam;

namespace {
// A stanza re-delivered after a deferred decision passes this module's hook once.
thread_local bool bypass_delivery = false;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}


constexpr size_t max_pref_jids = 1000;  // per list
}  // namespace

class mam_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    const auto& c = srv.cfg().mam;
    default_prefs_.mode = parse_archive_default(c.default_mode).value_or(archive_default::always);
    limits_.max_messages_per_user = c.max_messages_per_user;

    srv.add_migrations(mam_store::migrations());
    // The preferences are needed synchronously on the routing path: load them now (start-up,
    // so blocking is fine). Migrating here first is idempotent with the server's own pass.
    std::string error;
    if (!srv.sqlite().migrate(mam_store::migrations(), error)) throw std::runtime_error("mam: " + error);
    auto load = [](storage::connection& conn) { return mam_store::load_prefs(conn); };
    for (auto& row : srv.sqlite().run_blocking(load)) prefs_[row.user + "@" + row.host] = to_prefs(row);
    auto last = [](storage::connection& conn) { return mam_store::last_seq(conn); };
    last_seq_.store(srv.sqlite().run_blocking(last));

    // Group commit: rows are written by the writer thread in batches, one transaction each
    // (a transaction per row cost a thread hop and a WAL commit of several pages per message).
    storage::batch_writer<mam_entry>::options wo;
    wo.max_batch = c.write_batch;
    wo.max_delay = std::chrono::milliseconds(c.write_delay_ms);
    auto write = [this](storage::connection& conn, std::vector<mam_entry>& batch) {
      mam_store::insert_batch(conn, batch, limits_, &owner_cache_);
    };
    auto failed = [](const std::exception& e, size_t n) {
      spdlog::error("mam: writing {} messages to the archive failed: {}", n, e.what());
    };
    writer_.emplace(srv.sqlite(), wo, write, failed);

    srv.disco().add_account_feature(std::string(ns_mam));                   // XEP-0313 §7
    srv.disco().add_account_feature(std::string(proto::ns_mam_extended));
    srv.disco().add_account_feature(std::string(ns_sid));                   // XEP-0359 §6
    srv.iq().add(iq_target::self, std::string(ns_mam), [this](iq_request& r) { return handle_iq(r); });
    // XEP-0313 §8.1: another user's archive is forbidden.
    srv.iq().add(iq_target::bare, std::string(ns_mam), [](iq_request& r) -> asio::awaitable<void> {
      reply_error(r, stanza_condition::forbidden);
      co_return;
    });

    // After privacy (1000): what is blocked is not archived (XEP-0313 §6.1). Before carbons
    // (500), which copy the message with the stanza-id added here (XEP-0313 §3.3).
    srv.hooks().client_stanza.add(900, [this](c2s_session& s, xml::element& st) { return on_outgoing(s, st); });
    // Last: our own stanza-id on an outgoing message was for the sent carbons only; the
    // recipient must not see it (XEP-0313 §3.3).
    srv.hooks().client_stanza.add(-1000, [](c2s_session& s, xml::element& st) {
      if (st.name() == "message") strip_stanza_ids(st, s.bare_jid().str());
      return hook_result::next;
    });
    // Before the IM router (0) delivers or stores the message.
    srv.hooks().local_delivery.add(100, [this](xml::element& st, const jid& to) { return on_incoming(st, to); });
    srv.hooks().account_removed.add(0, [this](const jid& bare) {
      std::lock_guard lock(mutex_);
      prefs_.erase(bare.str());
      return hook_result::next;
    });

    if (c.max_age.count() > 0) asio::co_spawn(pool_, expiry_loop(this), asio::detached);
  }

  void stop() override {
    pool_.stop();
    pool_.join();
    // Whatever is still queued is written before the database closes.
    if (writer_) writer_->close();
  }

 private:
  // ---- archiving

  archive_prefs prefs_of(const jid& owner) {
    std::lock_guard lock(mutex_);
    auto it = prefs_.find(owner.bare_str());
    return it == prefs_.end() ? default_prefs_ : it->second;
  }

  static archive_prefs to_prefs(const mam_prefs_row& row) {
    archive_prefs p;
    p.mode = parse_archive_default(row.default_mode).value_or(archive_default::always);
    for (const auto& s : row.always)
      if (auto j = jid::parse(s)) p.always.push_back(*j);
    for (const auto& s : row.never)
      if (auto j = jid::parse(s)) p.never.push_back(*j);
    return p;
  }

  // Queues the message for the archive of `owner`; returns its archive id.
  std::string archive(const jid& owner, const jid& peer, bool outgoing, const xml::element& st) {
    mam_entry e;
    e.host = owner.domain();
    e.user = owner.local();
    e.seq = next_seq();
    e.uid = mam_store::make_uid(e.seq);
    e.with_bare = peer.bare_str();
    e.with_full = peer.str();
    e.outgoing = outgoing;
    e.stanza = encode_stanza(st);
    std::string uid = e.uid;
    // The id is ours at once: nobody waits for the row to be written.
    writer_->push(std::move(e));
    return uid;
  }

  // The archive order and timestamp of a message archived now: the receipt time in µs, or one
  // more than the last one given (clock steps back, several per µs, or after a restart with
  // newer rows). Assigned here, not by the writer, because the uid that encodes it is needed
  // at once (XEP-0359 stanza-id on the routed message). Any network thread.
  int64_t next_seq() {
    const int64_t now = now_us();
    int64_t last = last_seq_.load(std::memory_order_relaxed);
    int64_t next;
    do {
      next = std::max(now, last + 1);
    } while (!last_seq_.compare_exchange_weak(last, next, std::memory_order_relaxed));
    return next;
  }

  // On the writer thread: everything queued so far goes in, in arrival order.
  void flush_pending(storage::connection& c) { writer_->flush(c); }

  static asio::awaitable<void> expiry_loop(mam_module* self) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto& c = self->srv_->cfg().mam;
    for (;;) {
      const int64_t cutoff = now_us() - int64_t{c.max_age.count()} * 1000000;
      try {
        for (int i = 0; i < 100; ++i) {
          auto work = [cutoff](storage::connection& conn) { return mam_store::expire(conn, cutoff, 5000); };
          int64_t n = co_await self->srv_->sqlite().run(work);
          if (n < 5000) break;
        }
      } catch (const std::exception& e) {
        spdlog::warn("mam: expiry failed: {}", e.what());
      }
      timer.expires_after(c.expiry_interval);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  int64_t retention_cutoff() const {
    const auto age = srv_->cfg().mam.max_age.count();
    return age > 0 ? now_us() - int64_t{age} * 1000000 : 0;
  }

  // A message from a local client (after privacy): archived as outgoing in the sender's
  // archive. Messages to the account itself are archived once, when delivered (§6.1.1: one
  // copy per archive).
  hook_result on_outgoing(c2s_session& s, xml::element& st) {
    if (st.name() != "message") return hook_result::next;
    const jid owner = s.bare_jid();
    strip_stanza_ids(st, owner.str());  // XEP-0359 §4 rule 2
    if (!is_archivable(st)) return hook_result::next;
    auto to = jid::parse(st.attr_or("to"));
    if (!to || to->bare() == owner) return hook_result::next;
    switch (decide(prefs_of(owner), owner, *to)) {
      case archive_decision::skip:
        break;
      case archive_decision::archive:
        // For the sent carbons (XEP-0313 §3.3); removed again before routing.
        add_stanza_id(st, owner.str(), archive(owner, *to, true, st));
        break;
      case archive_decision::ask_roster:
        defer({st, owner, *to, owner, true});
        break;
    }
    return hook_result::next;
  }

  // A message for a local account, from anywhere: archived as incoming, with a stanza-id.
  hook_result on_incoming(xml::element& st, const jid& to) {
    if (bypass_delivery || st.name() != "message") return hook_result::next;
    const jid owner = to.bare();
    if (!owner.has_local()) return hook_result::next;
    {
      // Deferred messages for anyone go first: stanzas to one account keep their order.
      std::lock_guard lock(queue_mutex_);
      if (draining_) {
        queue_.push_back({st, owner, {}, to, false});
        return hook_result::stop;
      }
    }
    // A message this module already archived and delivered, routed again (XEP-0198: the
    // unacknowledged stanzas of an expired session) keeps its id and is not stored twice.
    if (is_rerouted(st, owner)) return hook_result::next;
    strip_stanza_ids(st, owner.str());  // XEP-0359 §4 rule 2: forged claims on our archive
    if (!is_archivable(st)) return hook_result::next;
    auto from = jid::parse(st.attr_or("from"));
    if (!from) return hook_result::next;
    switch (decide(prefs_of(owner), owner, *from)) {
      case archive_decision::skip:
        return hook_result::next;
      case archive_decision::archive:
        // XEP-0313 §3.3: the archive id travels with the message (also into offline storage).
        add_stanza_id(st, owner.str(), remember(archive(owner, *from, false, st), owner));
        return hook_result::next;
      case archive_decision::ask_roster:
        defer({st, owner, *from, to, false});
        return hook_result::stop;
    }
    return hook_result::next;
  }

  // Ids given to delivered messages lately, to recognise them when routed again. Bounded;
  // the ids are unguessable, and one that matches is used up.
  std::string remember(std::string uid, const jid& owner) {
    std::lock_guard lock(recent_mutex_);
    recent_.emplace(uid, owner.str());
    recent_order_.push_back(uid);
    while (recent_order_.size() > max_recent) {
      recent_.erase(recent_order_.front());
      recent_order_.pop_front();
    }
    return uid;
  }

  bool is_rerouted(const xml::element& st, const jid& owner) {
    const std::string by = owner.str();
    for (const xml::element* c : st.elements()) {
      if (!c->is("stanza-id", ns_sid) || c->attr_or("by") != by) continue;
      std::lock_guard lock(recent_mutex_);
      auto it = recent_.find(std::string(c->attr_or("id")));
      if (it != recent_.end() && it->second == by) {
        recent_.erase(it);  // the order list entry goes when it reaches the front
        return true;
      }
    }
    return false;
  }

  // ---- XEP-0441 default 'roster': the roster is in the database, so the decision waits.
  // One queue in arrival order; an incoming message is delivered when decided.
  struct deferred {
    xml::element st;
    jid owner, peer, to;
    bool outgoing;
  };

  void defer(deferred d) {
    bool spawn = false;
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(std::move(d));
      spawn = !draining_;
      draining_ = true;
    }
    if (spawn) asio::co_spawn(pool_, drain(this), asio::detached);
  }

  static asio::awaitable<void> drain(mam_module* self) {
    for (;;) {
      std::optional<deferred> d;
      {
        std::lock_guard lock(self->queue_mutex_);
        if (self->queue_.empty()) {
          self->draining_ = false;
          co_return;
        }
        d = std::move(self->queue_.front());
        self->queue_.pop_front();
      }
      try {
        auto op = self->decide_deferred(std::move(*d));
        co_await std::move(op);
      } catch (const std::exception& e) {
        spdlog::error("mam: deferred message: {}", e.what());
      }
    }
  }

  asio::awaitable<void> decide_deferred(deferred d) {
    if (!d.outgoing) {
      // Queued behind another decision without having been looked at yet.
      strip_stanza_ids(d.st, d.owner.str());
      if (d.peer.empty()) {
        auto from = jid::parse(d.st.attr_or("from"));
        if (from) d.peer = *from;
      }
    }
    bool keep = false;
    if (!d.peer.empty() && is_archivable(d.st)) {
      switch (decide(prefs_of(d.owner), d.owner, d.peer)) {
        case archive_decision::archive: keep = true; break;
        case archive_decision::skip: break;
        case archive_decision::ask_roster: {
          // XEP-0441 §2.4.1: the contact's bare JID in the user's roster.
          auto item = co_await roster::get_item(*srv_, d.owner, d.peer.bare());
          keep = item.has_value();
          break;
        }
      }
    }
    if (d.outgoing) {
      if (keep) archive(d.owner, d.peer, true, d.st);
      co_return;
    }
    if (keep) add_stanza_id(d.st, d.owner.str(), remember(archive(d.owner, d.peer, false, d.st), d.owner));
    // Hand the message back to delivery; this module's hook lets it pass once.
    bypass_delivery = true;
    srv_->hooks().local_delivery.run(d.st, d.to);
    bypass_delivery = false;
  }

  // ---- queries

  asio::awaitable<void> handle_iq(iq_request& req) {
    const xml::element& p = req.payload();
    if (p.name() == "query") {
      if (req.is_get()) {
        // XEP-0313 §4.1.5: the supported fields.
        auto r = make_result(req.stanza);
        r.add("query", std::string(ns_mam)).add_child(proto::mam_query_form());
        req.srv.reply(req, r);
        co_return;
      }
      co_await handle_query(req);
    } else if (p.name() == "prefs") {
      co_await handle_prefs(req);
    } else if (p.name() == "metadata" && req.is_get()) {
      co_await handle_metadata(req);
    } else {
      reply_error(req, stanza_condition::bad_request);
    }
  }

  asio::awaitable<void> handle_query(iq_request& req) {
    proto::mam_query_error perr;
    std::string why;
    auto q = proto::parse_mam_query(req.payload(), perr, why);
    if (!q) {
      auto c = perr == proto::mam_query_error::feature_not_implemented ? stanza_condition::feature_not_implemented
               : perr == proto::mam_query_error::jid_malformed          ? stanza_condition::jid_malformed
                                                                         : stanza_condition::bad_request;
      reply_error(req, c, why);
      co_return;
    }
    const auto& cfg = srv_->cfg().mam;
    mam_filter f;
    if (q->with) {
      f.with_bare = q->with->bare_str();
      if (q->with->has_resource()) f.with_full = q->with->str();
    }
    f.min_seq = std::max<int64_t>(q->start.value_or(0), retention_cutoff());
    if (q->end) f.max_seq = *q->end;
    f.after_id = q->after_id;
    f.before_id = q->before_id;
    f.ids = q->ids;
    mam_page_request pr;
    pr.max = cfg.default_page_size;
    if (q->rsm) {
      // XEP-0313 §4.3.1: the server may cap the page.
      if (q->rsm->max) pr.max = std::min<uint64_t>(*q->rsm->max, cfg.max_page_size);
      pr.after_uid = q->rsm->after;
      if (q->rsm->before) {
        pr.backward = true;
        if (!q->rsm->before->empty()) pr.before_uid = q->rsm->before;
      }
      pr.index = q->rsm->index;
    }
    const std::string host = req.to.domain(), user = req.to.local();
    struct outcome {
      mam_status status = mam_status::failed;
      mam_page page;
    };
    // On the writer: what was queued for this archive is written first, so a query sees
    // every message delivered before it.
    auto work = [this, host, user, f = std::move(f), pr](storage::connection& c) {
      flush_pending(c);
      outcome o;
      o.status = mam_store::query(c, host, user, f, pr, o.page);
      return o;
    };
    outcome o;
    try {
      o = co_await srv_->sqlite().run(std::move(work));
    } catch (const std::exception& e) {
      spdlog::error("mam: query of {}@{} failed: {}", user, host, e.what());
    }
    if (o.status == mam_status::item_not_found) {
      // XEP-0313 §4.1.3 and §4.3.2.
      reply_error(req, stanza_condition::item_not_found);
      co_return;
    }
    if (o.status != mam_status::ok) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    const std::string archive_jid = req.to.bare_str();
    const std::string client = req.from.str();
    std::vector<const mam_record*> order;
    for (const auto& r : o.page.items) order.push_back(&r);
    if (q->flip_page) std::reverse(order.begin(), order.end());  // XEP-0313 §4.3.4
    for (const mam_record* r : order) {
      auto stored = decode_stanza(r->stanza);
      if (!stored) {
        spdlog::error("mam: unreadable archived message {} of {}", r->uid, archive_jid);
        continue;
      }
      // XEP-0313 §4.2: each result in its own message, forwarded (XEP-0297) with a delay.
      xml::element m("message", std::string(xml::ns_client));
      m.set_attr("to", client);
      m.set_attr("from", archive_jid);
      m.set_attr("id", util::random_token(12));
      auto& res = m.add("result", std::string(ns_mam));
      if (!q->queryid.empty()) res.set_attr("queryid", q->queryid);
      res.set_attr("id", r->uid);
      auto& fwd = res.add("forwarded", std::string(ns_forward));
      fwd.add("delay", std::string(ns_delay)).set_attr("stamp", proto::format_xep0082_datetime(r->seq));
      fwd.add_child(std::move(*stored));
      send_to_client(req, m);
    }
    auto result = make_result(req.stanza);
    auto& fin = result.add("fin", std::string(ns_mam));
    if (o.page.complete) fin.set_attr("complete", "true");
    proto::rsm_reply rr;
    rr.count = o.page.count;
    if (!o.page.items.empty()) {
      rr.first = o.page.items.front().uid;
      rr.first_index = o.page.first_index;
      rr.last = o.page.items.back().uid;
    }
    fin.add_child(proto::make_rsm_reply(rr));
    req.srv.reply(req, result);
  }

  static void send_to_client(iq_request& req, const xml::element& m) {
    if (req.session) {
      if (!req.session->is_closing()) req.session->send(m);
    } else {
      req.srv.deliver_to_full(req.from, m);
    }
  }

  // XEP-0313 §5 (#extended): first and last message of the archive.
  asio::awaitable<void> handle_metadata(iq_request& req) {
    const std::string host = req.to.domain(), user = req.to.local();
    const int64_t cutoff = retention_cutoff();
    auto work = [this, host, user, cutoff](storage::connection& c) {
      flush_pending(c);
      return mam_store::bounds(c, host, user, cutoff);
    };
    std::optional<std::pair<mam_record, mam_record>> b;
    try {
      b = co_await srv_->sqlite().run(std::move(work));
    } catch (const std::exception& e) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    auto r = make_result(req.stanza);
    auto& md = r.add("metadata", std::string(ns_mam));
    if (b) {
      md.add("start", std::string(ns_mam))
          .set_attr("id", b->first.uid)
          .set_attr("timestamp", proto::format_xep0082_datetime(b->first.seq));
      md.add("end", std::string(ns_mam))
          .set_attr("id", b->second.uid)
          .set_attr("timestamp", proto::format_xep0082_datetime(b->second.seq));
    }
    req.srv.reply(req, r);
  }

  // XEP-0441 §2.1.
  asio::awaitable<void> handle_prefs(iq_request& req) {
    const jid owner = req.to.bare();
    if (req.is_get()) {
      auto r = make_result(req.stanza);
      r.add_child(prefs_element(prefs_of(owner)));
      req.srv.reply(req, r);
      co_return;
    }
    const xml::element& p = req.payload();
    auto mode = parse_archive_default(p.attr_or("default"));
    if (!mode) {
      reply_error(req, stanza_condition::bad_request, "default must be always, never or roster");
      co_return;
    }
    archive_prefs np;
    np.mode = *mode;
    mam_prefs_row row{owner.domain(), owner.local(), std::string(to_string(*mode)), {}, {}};
    for (const char* list : {"always", "never"}) {
      const xml::element* l = p.child(list, ns_mam);
      if (!l) continue;  // XEP-0441 §2.1.2: a missing list is an empty one
      for (const xml::element* j : l->elements()) {
        if (!j->is("jid", ns_mam)) continue;
        auto parsed = jid::parse(j->text());
        if (!parsed) {
          reply_error(req, stanza_condition::jid_malformed);
          co_return;
        }
        auto& dest = std::string_view(list) == "always" ? np.always : np.never;
        if (dest.size() >= max_pref_jids) {
          reply_error(req, stanza_condition::not_acceptable, "too many JIDs");
          co_return;
        }
        dest.push_back(*parsed);
        (std::string_view(list) == "always" ? row.always : row.never).push_back(parsed->str());
      }
    }
    auto work = [row](storage::connection& c) { mam_store::save_prefs(c, row); };
    bool saved = true;
    try {
      co_await srv_->sqlite().run(std::move(work));
    } catch (const std::exception& e) {
      spdlog::error("mam: saving preferences of {} failed: {}", owner.str(), e.what());
      saved = false;
    }
    if (!saved) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    {
      std::lock_guard lock(mutex_);
      prefs_[owner.str()] = np;
    }
    auto r = make_result(req.stanza);
    r.add_child(prefs_element(np));  // the applied preferences
    req.srv.reply(req, r);
  }

  static xml::element prefs_element(const archive_prefs& p) {
    xml::element e("prefs", std::string(ns_mam));
    e.set_attr("default", std::string(to_string(p.mode)));
    auto& a = e.add("always", std::string(ns_mam));
    for (const auto& j : p.always) a.add("jid", std::string(ns_mam)).add_text(j.str());
    auto& n = e.add("never", std::string(ns_mam));
    for (const auto& j : p.never) n.add("jid", std::string(ns_mam)).add_text(j.str());
    return e;
  }

  server* srv_ = nullptr;
  archive_prefs default_prefs_;
  mam_limits limits_;

  std::mutex mutex_;
  std::unordered_map<std::string, archive_prefs> prefs_;  // users who set their own

  std::atomic<int64_t> last_seq_{0};  // the last seq given (next_seq)
  mam_owner_cache owner_cache_;  // the writer thread's (batch_writer's write callback)
  std::optional<storage::batch_writer<mam_entry>> writer_;

  static constexpr size_t max_recent = 100000;
  std::mutex recent_mutex_;
  std::unordered_map<std::string, std::string> recent_;  // uid -> archive (bare JID)
  std::deque<std::string> recent_order_;

  std::mutex queue_mutex_;
  std::deque<deferred> queue_;
  bool draining_ = false;

  asio::thread_pool pool_{1};
};

}  // namespace starling::modules

using starling::modules::mam_module;
STARLING_MODULE(mam_module, "mam")
