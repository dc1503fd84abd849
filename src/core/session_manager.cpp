#include "core/session_manager.hpp"

namespace starling {

namespace {
// The bare JID as a look-up key in a per-thread buffer: routing a message looks sessions up
// several times, and "user@domain" is past the small-string size, so bare_str() allocated
// each time (issue 6). Only for an immediate look-up: the next call overwrites it.
const std::string& bare_key(const jid& j) {
  static thread_local std::string key;
  return j.bare_into(key);
}
}  // namespace

std::shared_ptr<c2s_session> session_manager::add(const jid& full, const std::shared_ptr<c2s_session>& s) {
  std::lock_guard lock(mutex_);
  auto& res = by_bare_[full.bare_str()];
  auto [it, inserted] = res.try_emplace(full.resource(), entry{s});
  if (!inserted) return it->second.session;
  ++count_;
  return nullptr;
}

std::shared_ptr<c2s_session> session_manager::replace(const jid& full, const std::shared_ptr<c2s_session>& s) {
  std::lock_guard lock(mutex_);
  auto& slot = by_bare_[full.bare_str()][full.resource()];
  auto old = std::move(slot.session);
  slot = entry{s};
  if (!old) ++count_;
  return old;
}

void session_manager::remove(const jid& full, const c2s_session* s) {
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(full));
  if (it == by_bare_.end()) return;
  auto r = it->second.find(full.resource());
  // Only the holder removes itself: a replaced session must not unregister its successor.
  if (r == it->second.end() || r->second.session.get() != s) return;
  it->second.erase(r);
  --count_;
  if (it->second.empty()) by_bare_.erase(it);
}

std::shared_ptr<c2s_session> session_manager::find(const jid& full) const {
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(full));
  if (it == by_bare_.end()) return nullptr;
  auto r = it->second.find(full.resource());
  return r == it->second.end() ? nullptr : r->second.session;
}

std::vector<std::shared_ptr<c2s_session>> session_manager::find_bare(const jid& bare) const {
  std::vector<std::shared_ptr<c2s_session>> out;
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(bare));
  if (it == by_bare_.end()) return out;
  out.reserve(it->second.size());
  for (auto& [_, e] : it->second) out.push_back(e.session);
  return out;
}

void session_manager::set_presence(const jid& full, bool available, int priority) {
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(full));
  if (it == by_bare_.end()) return;
  auto r = it->second.find(full.resource());
  if (r == it->second.end()) return;
  r->second.available = available;
  r->second.priority = priority;
}

std::vector<resource_info> session_manager::resources(const jid& bare) const {
  std::vector<resource_info> out;
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(bare));
  if (it == by_bare_.end()) return out;
  out.reserve(it->second.size());
  for (auto& [res, e] : it->second) out.push_back({bare.with_resource(res), e.session, e.available, e.priority});
  return out;
}

size_t session_manager::resource_count(const jid& bare) const {
  std::lock_guard lock(mutex_);
  auto it = by_bare_.find(bare_key(bare));
  return it == by_bare_.end() ? 0 : it->second.size();
}

std::shared_ptr<c2s_session> session_manager::take_over(const jid& full, const c2s_session* before,
                                                        const std::shared_ptr<c2s_session>& now) {
  std::lock_guard lock(mutex_);
  auto& res = by_bare_[full.bare_str()];
  auto [it, inserted] = res.try_emplace(full.resource(), entry{now});
  if (inserted) {
    ++count_;
    return nullptr;
  }
  if (it->second.session.get() == before) {
    it->second.session = now;  // availability and priority stay
    return nullptr;
  }
  auto other = std::move(it->second.session);
  it->second = entry{now};
  return other;
}

void session_manager::add_resumable(const std::string& id, const jid& bare, const std::shared_ptr<c2s_session>& s) {
  std::lock_guard lock(mutex_);
  resumable_[id] = resumable{bare.bare_str(), s};
}

std::shared_ptr<c2s_session> session_manager::find_resumable(const std::string& id, const jid& bare) const {
  std::lock_guard lock(mutex_);
  auto it = resumable_.find(id);
  // XEP-0198 §9: only the account that enabled it may resume a session.
  if (it == resumable_.end() || it->second.bare != bare.bare_str()) return nullptr;
  return it->second.session;
}

void session_manager::remove_resumable(const std::string& id, const c2s_session* s, std::optional<uint32_t> h) {
  std::shared_ptr<c2s_session> gone;  // released outside the lock
  std::lock_guard lock(mutex_);
  auto it = resumable_.find(id);
  if (it == resumable_.end() || it->second.session.get() != s) return;
  if (h) {
    if (expired_order_.size() >= max_expired) {
      expired_.erase(expired_order_.front());
      expired_order_.pop_front();
    }
    expired_[id] = expired{it->second.bare, *h};
    expired_order_.push_back(id);
  }
  gone = std::move(it->second.session);
  resumable_.erase(it);
}

std::optional<uint32_t> session_manager::expired_h(const std::string& id, const jid& bare) const {
  std::lock_guard lock(mutex_);
  auto it = expired_.find(id);
  if (it == expired_.end() || it->second.bare != bare.bare_str()) return std::nullopt;
  return it->second.h;
}

void session_manager::clear() {
  decltype(by_bare_) gone;
  decltype(resumable_) gone_resumable;
  {
    std::lock_guard lock(mutex_);
    gone.swap(by_bare_);
    gone_resumable.swap(resumable_);
    count_ = 0;
  }
}

size_t session_manager::size() const {
  std::lock_guard lock(mutex_);
  return count_;
}

}  // namespace starling
