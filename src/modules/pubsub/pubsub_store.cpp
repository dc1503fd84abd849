// SQLite storage of the PubSub engine.
#include "modules/pubsub/pubsub_store.hpp"

#include "storage/sqlite.hpp"

namespace starling::pubsub {

std::string_view to_string(affiliation a) {
  switch (a) {
    case affiliation::outcast: return "outcast";
    case affiliation::none: return "none";
    case affiliation::member: return "member";
    case affiliation::publish_only: return "publish-only";
    case affiliation::publisher: return "publisher";
    case affiliation::owner: return "owner";
  }
  return "none";
}

std::optional<affiliation> parse_affiliation(std::string_view s) {
  if (s == "outcast") return affiliation::outcast;
  if (s == "none") return affiliation::none;
  if (s == "member") return affiliation::member;
  if (s == "publish-only") return affiliation::publish_only;
  if (s == "publisher") return affiliation::publisher;
  if (s == "owner") return affiliation::owner;
  return std::nullopt;
}

std::vector<storage::migration> migrations() {
  return {{"pubsub", 1,
           "CREATE TABLE pubsub_node ("
           " id INTEGER PRIMARY KEY,"
           " service TEXT NOT NULL,"  // PEP: the account's bare JID; a component: its domain
           " node TEXT NOT NULL,"
           " config TEXT NOT NULL,"   // pubsub_config.hpp serialize()
           // PEP: the owning account, so that its nodes go with it (also by starlingctl
           // deluser); NULL for a component's nodes.
           " owner_host TEXT, owner_user TEXT,"
           " UNIQUE (service, node),"
           " FOREIGN KEY (owner_host, owner_user) REFERENCES accounts (host, user) ON DELETE CASCADE);"
           "CREATE INDEX pubsub_node_owner ON pubsub_node (owner_host, owner_user);"
           "CREATE TABLE pubsub_item ("
           " node_id INTEGER NOT NULL REFERENCES pubsub_node (id) ON DELETE CASCADE,"
           " item_id TEXT NOT NULL,"
           " seq INTEGER NOT NULL,"        // publication order within the node
           " publisher TEXT NOT NULL,"
           " published INTEGER NOT NULL,"  // unix ms
           " payload TEXT NOT NULL,"
           " PRIMARY KEY (node_id, item_id));"
           // Newest-first retrieval and trimming walk this index.
           "CREATE INDEX pubsub_item_order ON pubsub_item (node_id, seq);"
           "CREATE TABLE pubsub_affiliation ("
           " node_id INTEGER NOT NULL REFERENCES pubsub_node (id) ON DELETE CASCADE,"
           " jid TEXT NOT NULL,"
           " affiliation TEXT NOT NULL,"
           " PRIMARY KEY (node_id, jid));"
           "CREATE INDEX pubsub_affiliation_jid ON pubsub_affiliation (jid);"
           "CREATE TABLE pubsub_subscription ("
           " node_id INTEGER NOT NULL REFERENCES pubsub_node (id) ON DELETE CASCADE,"
           " jid TEXT NOT NULL,"
           " bare TEXT NOT NULL,"  // bare form of jid, for per-account look-ups and removal
           " subid TEXT NOT NULL,"
           " PRIMARY KEY (node_id, jid));"
           "CREATE INDEX pubsub_subscription_bare ON pubsub_subscription (bare)"}};
}

namespace {
std::string bare_of(const std::string& j) {
  size_t slash = j.find('/');
  return slash == std::string::npos ? j : j.substr(0, slash);
}
}  // namespace

std::optional<node_row> store::find_node(const std::string& service, const std::string& node) {
  auto st = c_.prepare("SELECT id, config FROM pubsub_node WHERE service = ?1 AND node = ?2", service, node);
  if (!st.step()) return std::nullopt;
  return node_row{st.column_int64(0), node, deserialize(st.column_text(1))};
}

std::vector<node_row> store::nodes(const std::string& service) {
  std::vector<node_row> out;
  auto st = c_.prepare("SELECT id, node, config FROM pubsub_node WHERE service = ?1 ORDER BY node", service);
  while (st.step()) out.push_back({st.column_int64(0), st.column_text(1), deserialize(st.column_text(2))});
  return out;
}

size_t store::node_count(const std::string& service) {
  auto st = c_.prepare("SELECT count(*) FROM pubsub_node WHERE service = ?1", service);
  st.step();
  return static_cast<size_t>(st.column_int64(0));
}

node_row store::create_node(const std::string& service, const std::string& node, const node_config& cfg) {
  std::optional<std::string> host, user;
  if (size_t at = service.find('@'); at != std::string::npos) {
    user = service.substr(0, at);
    host = service.substr(at + 1);
  }
  c_.execute("INSERT INTO pubsub_node (service, node, config, owner_host, owner_user) VALUES (?1, ?2, ?3, ?4, ?5)",
             service, node, serialize(cfg), host, user);
  return {c_.last_insert_rowid(), node, cfg};
}

void store::update_config(int64_t node_id, const node_config& cfg) {
  c_.execute("UPDATE pubsub_node SET config = ?2 WHERE id = ?1", node_id, serialize(cfg));
}

void store::delete_node(int64_t node_id) { c_.execute("DELETE FROM pubsub_node WHERE id = ?1", node_id); }

void store::put_item(int64_t node_id, const item_row& it, uint64_t keep) {
  int64_t seq = 1;
  {
    auto st = c_.prepare("SELECT coalesce(max(seq), 0) + 1 FROM pubsub_item WHERE node_id = ?1", node_id);
    st.step();
    seq = st.column_int64(0);
  }
  c_.execute(
      "INSERT INTO pubsub_item (node_id, item_id, seq, publisher, published, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT (node_id, item_id) DO UPDATE SET seq = excluded.seq, publisher = excluded.publisher, "
      "published = excluded.published, payload = excluded.payload",
      node_id, it.id, seq, it.publisher, it.published, it.payload);
  trim(node_id, keep);
}

void store::trim(int64_t node_id, uint64_t keep) {
  if (keep > static_cast<uint64_t>(INT64_MAX)) return;
  c_.execute(
      "DELETE FROM pubsub_item WHERE node_id = ?1 AND seq <= "
      "(SELECT seq FROM pubsub_item WHERE node_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
      node_id, static_cast<int64_t>(keep));
}

std::vector<item_row> store::items(int64_t node_id, uint64_t max) {
  std::vector<item_row> out;
  int64_t limit = max == 0 || max > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(max);
  auto st = c_.prepare(
      "SELECT item_id, publisher, payload, published FROM pubsub_item WHERE node_id = ?1 ORDER BY seq DESC LIMIT ?2",
      node_id, limit);
  while (st.step()) out.push_back({st.column_text(0), st.column_text(1), st.column_text(2), st.column_int64(3)});
  return out;
}

std::optional<item_row> store::item(int64_t node_id, const std::string& item_id) {
  auto st = c_.prepare(
      "SELECT item_id, publisher, payload, published FROM pubsub_item WHERE node_id = ?1 AND item_id = ?2", node_id,
      item_id);
  if (!st.step()) return std::nullopt;
  return item_row{st.column_text(0), st.column_text(1), st.column_text(2), st.column_int64(3)};
}

bool store::retract(int64_t node_id, const std::string& item_id) {
  return c_.execute("DELETE FROM pubsub_item WHERE node_id = ?1 AND item_id = ?2", node_id, item_id) > 0;
}

void store::purge(int64_t node_id) { c_.execute("DELETE FROM pubsub_item WHERE node_id = ?1", node_id); }

affiliation store::affiliation_of(int64_t node_id, const std::string& bare) {
  auto st = c_.prepare("SELECT affiliation FROM pubsub_affiliation WHERE node_id = ?1 AND jid = ?2", node_id, bare);
  if (!st.step()) return affiliation::none;
  return parse_affiliation(st.column_text(0)).value_or(affiliation::none);
}

std::vector<std::pair<std::string, affiliation>> store::affiliations(int64_t node_id) {
  std::vector<std::pair<std::string, affiliation>> out;
  auto st = c_.prepare("SELECT jid, affiliation FROM pubsub_affiliation WHERE node_id = ?1 ORDER BY jid", node_id);
  while (st.step())
    if (auto a = parse_affiliation(st.column_text(1))) out.emplace_back(st.column_text(0), *a);
  return out;
}

std::vector<std::pair<std::string, affiliation>> store::affiliations_of(const std::string& service,
                                                                        const std::string& bare) {
  std::vector<std::pair<std::string, affiliation>> out;
  auto st = c_.prepare(
      "SELECT n.node, a.affiliation FROM pubsub_affiliation a JOIN pubsub_node n ON n.id = a.node_id "
      "WHERE n.service = ?1 AND a.jid = ?2 ORDER BY n.node",
      service, bare);
  while (st.step())
    if (auto a = parse_affiliation(st.column_text(1))) out.emplace_back(st.column_text(0), *a);
  return out;
}

void store::set_affiliation(int64_t node_id, const std::string& bare, affiliation a) {
  if (a == affiliation::none) {
    c_.execute("DELETE FROM pubsub_affiliation WHERE node_id = ?1 AND jid = ?2", node_id, bare);
    return;
  }
  c_.execute(
      "INSERT INTO pubsub_affiliation (node_id, jid, affiliation) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (node_id, jid) DO UPDATE SET affiliation = excluded.affiliation",
      node_id, bare, to_string(a));
}

std::vector<subscription_row> store::subscriptions(int64_t node_id) {
  std::vector<subscription_row> out;
  auto st = c_.prepare(
      "SELECT n.node, s.jid, s.subid FROM pubsub_subscription s JOIN pubsub_node n ON n.id = s.node_id "
      "WHERE s.node_id = ?1 ORDER BY s.jid",
      node_id);
  while (st.step()) out.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
  return out;
}

std::vector<subscription_row> store::subscriptions_of(const std::string& service, const std::string& bare) {
  std::vector<subscription_row> out;
  auto st = c_.prepare(
      "SELECT n.node, s.jid, s.subid FROM pubsub_subscription s JOIN pubsub_node n ON n.id = s.node_id "
      "WHERE n.service = ?1 AND s.bare = ?2 ORDER BY n.node, s.jid",
      service, bare);
  while (st.step()) out.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
  return out;
}

std::optional<subscription_row> store::subscription(int64_t node_id, const std::string& jid) {
  auto st = c_.prepare(
      "SELECT n.node, s.jid, s.subid FROM pubsub_subscription s JOIN pubsub_node n ON n.id = s.node_id "
      "WHERE s.node_id = ?1 AND s.jid = ?2",
      node_id, jid);
  if (!st.step()) return std::nullopt;
  return subscription_row{st.column_text(0), st.column_text(1), st.column_text(2)};
}

void store::subscribe(int64_t node_id, const std::string& jid, const std::string& subid) {
  c_.execute(
      "INSERT INTO pubsub_subscription (node_id, jid, bare, subid) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (node_id, jid) DO NOTHING",
      node_id, jid, bare_of(jid), subid);
}

bool store::unsubscribe(int64_t node_id, const std::string& jid) {
  return c_.execute("DELETE FROM pubsub_subscription WHERE node_id = ?1 AND jid = ?2", node_id, jid) > 0;
}

std::vector<last_item> store::last_items(const std::string& service, const std::string& bare) {
  std::vector<last_item> out;
  auto st = c_.prepare(
      "SELECT n.id, n.node, n.config, i.item_id, i.publisher, i.payload, i.published, "
      " (SELECT a.affiliation FROM pubsub_affiliation a WHERE a.node_id = n.id AND a.jid = ?2) "
      "FROM pubsub_node n JOIN pubsub_item i ON i.node_id = n.id "
      "WHERE n.service = ?1 AND i.seq = (SELECT max(seq) FROM pubsub_item WHERE node_id = n.id) ORDER BY n.node",
      service, bare);
  while (st.step()) {
    last_item li;
    li.node = {st.column_int64(0), st.column_text(1), deserialize(st.column_text(2))};
    li.item = {st.column_text(3), st.column_text(4), st.column_text(5), st.column_int64(6)};
    if (!st.column_is_null(7)) li.aff = parse_affiliation(st.column_text(7)).value_or(affiliation::none);
    out.push_back(std::move(li));
  }
  return out;
}

void store::remove_account(const std::string& bare) {
  c_.execute("DELETE FROM pubsub_node WHERE service = ?1", bare);
  c_.execute("DELETE FROM pubsub_affiliation WHERE jid = ?1", bare);
  c_.execute("DELETE FROM pubsub_subscription WHERE bare = ?1", bare);
}

}  // namespace starling::pubsub
