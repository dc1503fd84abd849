#pragma once
// XEP-0198 §4 counters and the queue of unacknowledged stanzas. Sequence numbers are 32-bit
// and wrap to 0 after 2^32-1 (XEP-0198 §4: "the value ... MUST be reset to zero"), so every
// comparison is done on differences modulo 2^32.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling {

inline constexpr std::string_view ns_sm = "urn:xmpp:sm:3";

// XEP-0198 §6: 'h' is an xs:unsignedInt.
std::optional<uint32_t> parse_sm_h(std::string_view text);

class sm_outbound_queue {
 public:
  // `start`: the count already acknowledged (0 for a new stream; tests start near the wrap).
  explicit sm_outbound_queue(uint32_t start = 0) : acked_(start) {}
  // A stanza went to the client: it gets the next sequence number and waits for an ack.
  void push(xml::element stanza);
  // The client's 'h' (on <a/> or <resume/>). Drops what it acknowledges. False if it
  // acknowledges more than was sent (XEP-0198 §7: handled-count-too-high); nothing changes then.
  bool ack(uint32_t h);
  uint32_t sent() const { return acked_ + static_cast<uint32_t>(queue_.size()); }
  uint32_t acked() const { return acked_; }
  size_t unacked() const { return queue_.size(); }
  const std::deque<xml::element>& pending() const { return queue_; }
  // The unacknowledged stanzas, oldest first; the queue is empty afterwards.
  std::deque<xml::element> take();

 private:
  uint32_t acked_ = 0;  // last 'h' the client acknowledged
  std::deque<xml::element> queue_;
};

// One stream management session (XEP-0198): what moves to a new connection on resumption.
struct sm_state {
  std::string id;               // SM-ID (XEP-0198 §5), empty when not resumable
  std::chrono::seconds timeout{0};
  uint32_t handled = 0;         // stanzas received from the client (our 'h')
  sm_outbound_queue out;        // stanzas sent to the client
  bool ack_requested = false;   // an <r/> is on its way and not yet answered
};

}  // namespace starling
