#pragma once
// Federation (RFC 6120 §4 and §13 for server-to-server): the table of outgoing streams per
// domain pair, stanzas queued while a stream is set up, the incoming stream count, dialback
// secret and verification requests (XEP-0220), the TLS client contexts and the peer
// certificate check (XEP-0178 needs it before offering SASL EXTERNAL).
#include <openssl/ssl.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/live_set.hpp"
#include "core/s2s_dialback.hpp"
#include "net/resolver.hpp"
#include "xml/element.hpp"

namespace starling {

class server;
class s2s_stream;

class s2s_manager {
 public:
  explicit s2s_manager(server& srv);
  ~s2s_manager();
  s2s_manager(const s2s_manager&) = delete;
  s2s_manager& operator=(const s2s_manager&) = delete;

  // Loads the client TLS contexts and the trust store; false with a message on failure.
  bool load_tls(std::string& error);
  // Drops every outgoing stream (shutdown, before the io_contexts go).
  void clear();
  // Graceful shutdown: ends every live stream, incoming and outgoing, with <system-shutdown/>
  // (RFC 6120 §4.9.3.19); streams already closing are left alone.
  void shutdown_streams();
  // Streams (incoming and outgoing) whose object still exists.
  size_t live_streams() const;
  // s2s_stream::start() and its destructor.
  void stream_started(s2s_stream* s);
  void stream_ended(s2s_stream* s);

  // --- any thread ---
  // Sends a stanza whose 'from' is at a local domain to its non-local 'to' domain, over the
  // outgoing stream for that domain pair, set up on first use. While it is being set up the
  // stanza waits in the stream's queue; if that fails it is bounced (RFC 6120 §8.3.3.16/17).
  // Bounces go to `bounce_to` when given (the sending session, so that e.g. an error for a
  // subscription request stamped with the bare JID reaches the resource that sent it).
  void send(xml::element stanza, std::string bounce_to = {});
  // An incoming s2s connection from a listener.
  void accept(boost::asio::ip::tcp::socket socket, bool direct_tls);

  // XEP-0220 §2.3: asks the Authoritative Server of `remote` (over our outgoing stream
  // local -> remote) whether `key` is valid for the stream `id` it opened to us. `done` runs on
  // an arbitrary thread with the outcome.
  void verify_dialback(const std::string& local, const std::string& remote, const std::string& id,
                       const std::string& key, std::function<void(dialback_outcome)> done);
  // The key we send for our outgoing stream local -> remote with the id the peer gave it.
  std::string key_for(std::string_view receiving, std::string_view originating, std::string_view id) const;
  // XEP-0220 §2.4 (Authoritative Server): the id must be one of our own live outgoing streams
  // from `originating` to `receiving`, or the key cannot be ours (replays of old keys fail).
  bool is_our_stream(const std::string& originating, const std::string& receiving, const std::string& id) const;
  void note_stream_id(const std::string& local, const std::string& remote, const std::string& id);
  void forget_stream_id(const std::string& local, const std::string& remote, const std::string& id);

  // Stream lifecycle.
  void outgoing_finished(const s2s_stream* s, const std::string& local, const std::string& remote);
  // XEP-0288: an incoming stream on which the peer enabled bidirectionality and
  // authenticated `remote` may carry our stanzas from `local` to `remote` (used when no
  // outgoing stream for the pair exists).
  void add_bidi(const std::string& local, const std::string& remote, const std::shared_ptr<s2s_stream>& s);
  void remove_bidi(const s2s_stream* s);
  bool incoming_opened();
  void incoming_closed();

  // A client TLS context presenting `local`'s certificate (a reference the caller frees).
  SSL_CTX* acquire_client_ctx(const std::string& local) const;
  // RFC 6125 check of the peer's certificate chain against the trust anchors and `domain`.
  // The one call through which every certificate decision for s2s goes.
  bool peer_certificate_valid(SSL* ssl, const std::string& domain) const;

  server& srv() { return srv_; }
  // DNS discovery of remote servers (RFC 6120 §3.2, XEP-0368), shared by all threads.
  const net::resolver& resolver() const { return *resolver_; }

 private:
  std::shared_ptr<s2s_stream> outgoing(const std::string& local, const std::string& remote);

  server& srv_;
  std::string secret_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<s2s_stream>> out_;
  std::map<std::pair<std::string, std::string>, std::weak_ptr<s2s_stream>> bidi_;
  std::set<std::string> stream_ids_;  // "originating\n receiving\n id" of live outgoing streams
  size_t incoming_ = 0;
  live_set<s2s_stream> live_;
  struct tls_state;
  std::shared_ptr<tls_state> tls_;
  std::unique_ptr<net::resolver> resolver_;
};

}  // namespace starling
