#include "proto/mam_query.hpp"

#include "proto/data_form.hpp"

namespace starling::proto {

namespace {
constexpr size_t max_ids = 256;  // 'ids' values accepted in one query
}

std::optional<mam_query> parse_mam_query(const xml::element& query, mam_query_error& err, std::string& text) {
  err = mam_query_error::none;
  text.clear();
  auto fail = [&](mam_query_error e, std::string t) -> std::optional<mam_query> {
    err = e;
    text = std::move(t);
    return std::nullopt;
  };
  mam_query q;
  q.queryid = std::string(query.attr_or("queryid"));
  // XEP-0313 §6.1.3: 'node' is reserved for PubSub archives (XEP-0442), not served here.
  if (query.attr("node")) return fail(mam_query_error::feature_not_implemented, "PubSub archives are not supported");
  bool have_form = false;
  for (const xml::element* c : query.elements()) {
    if (c->is("x", ns_data)) {
      if (have_form) return fail(mam_query_error::bad_request, "more than one data form");
      have_form = true;
      form_error fe;
      auto form = parse_form(*c, fe);
      if (!form) return fail(mam_query_error::bad_request, "malformed data form");
      if (form->type != "submit") return fail(mam_query_error::bad_request, "the form must be of type 'submit'");
      // XEP-0313 §4.1.2: the hidden FORM_TYPE field MUST be urn:xmpp:mam:2.
      if (form->form_type() != ns_mam) return fail(mam_query_error::bad_request, "FORM_TYPE must be urn:xmpp:mam:2");
      for (const auto& f : form->fields) {
        if (f.var == "FORM_TYPE") continue;
        if (f.var == "with") {
          if (f.values.size() != 1) return fail(mam_query_error::bad_request, "'with' takes one JID");
          auto j = jid::parse(f.value());
          if (!j) return fail(mam_query_error::jid_malformed, "'with' is not a valid JID");
          q.with = std::move(*j);
        } else if (f.var == "start" || f.var == "end") {
          if (f.values.size() != 1) return fail(mam_query_error::bad_request, "'" + f.var + "' takes one timestamp");
          auto t = parse_xep0082_datetime(f.value());
          if (!t) return fail(mam_query_error::bad_request, "'" + f.var + "' is not an XEP-0082 DateTime");
          (f.var == "start" ? q.start : q.end) = *t;
        } else if (f.var == "after-id" || f.var == "before-id") {
          if (f.values.size() != 1 || f.value().empty())
            return fail(mam_query_error::bad_request, "'" + f.var + "' takes one archive id");
          (f.var == "after-id" ? q.after_id : q.before_id) = f.value();
        } else if (f.var == "ids") {
          if (f.values.empty()) return fail(mam_query_error::bad_request, "'ids' needs at least one value");
          if (f.values.size() > max_ids) return fail(mam_query_error::bad_request, "too many 'ids'");
          q.ids = f.values;
        } else {
          // XEP-0313 §4.1.5: a field the server does not recognise.
          return fail(mam_query_error::feature_not_implemented, "unsupported field '" + f.var + "'");
        }
      }
    } else if (c->is("set", ns_rsm)) {
      if (q.rsm) return fail(mam_query_error::bad_request, "more than one RSM set");
      rsm_error re;
      auto r = parse_rsm(*c, re);
      if (!r) return fail(mam_query_error::bad_request, "malformed RSM set");
      // XEP-0313 §4.3.2: before and after together are undefined; before-id/after-id do that.
      if (r->after && r->before) return fail(mam_query_error::bad_request, "RSM before and after together");
      if (r->index && (r->after || r->before)) return fail(mam_query_error::bad_request, "RSM index with before/after");
      q.rsm = std::move(*r);
    } else if (c->is("flip-page", ns_mam)) {
      q.flip_page = true;
    }
    // Other children are ignored, as XEP-0059 §4 asks of unknown extensions.
  }
  return q;
}

xml::element mam_query_form() {
  xml::element x = make_form("form", ns_mam);
  add_field(x, "with", "jid-single");
  add_field(x, "start", "text-single");
  add_field(x, "end", "text-single");
  add_field(x, "before-id", "text-single");
  add_field(x, "after-id", "text-single");
  auto& ids = add_field(x, "ids", "list-multi");
  // XEP-0313 §4.1.5: open list, validated by XEP-0122.
  auto& v = ids.add("validate", "http://jabber.org/protocol/xdata-validate");
  v.set_attr("datatype", "xs:string");
  v.add("open", "http://jabber.org/protocol/xdata-validate");
  return x;
}

}  // namespace starling::proto
