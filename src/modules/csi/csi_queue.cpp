#include "modules/csi/csi_queue.hpp"

#include <algorithm>

namespace starling::modules::csi {

bool can_wait(const xml::element& st) {
  const std::string_view kind = st.name(), type = st.attr_or("type");
  if (kind == "presence") return type.empty() || type == "unavailable";
  if (kind != "message" || type == "error") return false;
  // Only chat-state notifications (XEP-0085 §5.5) and nothing a user would read.
  bool chat_state = false;
  for (const xml::element* c : st.elements()) {
    if (c->ns() == ns_chatstates) {
      chat_state = true;
      continue;
    }
    return false;  // a body, a receipt, an encrypted payload...: urgent
  }
  return chat_state;
}

bool held_queue::hold(const xml::element& st) {
  if (st.name() == "presence") {
    const std::string_view from = st.attr_or("from");
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const xml::element& q) {
      return q.name() == "presence" && q.attr_or("from") == from;
    });
    if (it != queue_.end()) {
      queue_.erase(it);
      queue_.push_back(st);
      return true;
    }
  }
  if (queue_.size() >= limit_) return false;
  queue_.push_back(st);
  return true;
}

std::deque<xml::element> held_queue::take() {
  std::deque<xml::element> out;
  out.swap(queue_);
  return out;
}

}  // namespace starling::modules::csi
