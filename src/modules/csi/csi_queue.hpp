#pragma once
// XEP-0352 Client State Indication: what an inactive client can do without for a while, and
// the queue that holds it back (pure logic, unit-tested).
#include <cstddef>
#include <deque>
#include <string>

#include "xml/element.hpp"

namespace starling::modules::csi {

inline constexpr std::string_view ns_csi = "urn:xmpp:csi:0";
inline constexpr std::string_view ns_chatstates = "http://jabber.org/protocol/chatstates";

// XEP-0352 §5 (server optimisations): presence updates and messages that carry only a chat
// state (XEP-0085) can wait; messages with a body, IQs, subscription requests and everything
// else go out at once.
bool can_wait(const xml::element& stanza);

class held_queue {
 public:
  explicit held_queue(size_t limit) : limit_(limit) {}
  // Holds `stanza` back. A presence from the same sender as a held one supersedes it (only the
  // newest availability matters). Returns false when the queue is full: flush it first.
  bool hold(const xml::element& stanza);
  std::deque<xml::element> take();
  size_t size() const { return queue_.size(); }
  bool empty() const { return queue_.empty(); }

 private:
  size_t limit_;
  std::deque<xml::element> queue_;
};

}  // namespace starling::modules::csi
