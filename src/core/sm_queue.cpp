#include "core/sm_queue.hpp"

#include <charconv>

namespace starling {

std::optional<uint32_t> parse_sm_h(std::string_view text) {
  uint32_t v = 0;
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size()) return std::nullopt;
  return v;
}

void sm_outbound_queue::push(xml::element stanza) { queue_.push_back(std::move(stanza)); }

bool sm_outbound_queue::ack(uint32_t h) {
  // Unsigned subtraction handles the wrap at 2^32 (XEP-0198 §4).
  const uint32_t newly = h - acked_;
  if (newly > queue_.size()) return false;
  queue_.erase(queue_.begin(), queue_.begin() + newly);
  acked_ = h;
  return true;
}

std::deque<xml::element> sm_outbound_queue::take() {
  std::deque<xml::element> out;
  out.swap(queue_);
  acked_ += static_cast<uint32_t>(out.size());
  return out;
}

}  // namespace starling
