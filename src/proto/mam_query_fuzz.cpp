// libFuzzer target for the query codecs: XEP-0313 <query/> with its XEP-0004 form and
// XEP-0059 <set/>. The input is XML text wrapped in a <query/>; parsing must never crash,
// and whatever parses must rebuild into forms and RSM replies that parse back the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proto/data_form.hpp"
#include "proto/mam_query.hpp"
#include "proto/proto_test_util.hpp"
#include "proto/rsm.hpp"

using namespace starling;
using namespace starling::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = "<query xmlns='urn:xmpp:mam:2' queryid='f'>";
  text.append(reinterpret_cast<const char*>(data), size);
  text += "</query>";
  auto el = test_util::parse(text);
  if (!el) return 0;
  mam_query_error err;
  std::string why;
  auto q = parse_mam_query(*el, err, why);
  if (q && err != mam_query_error::none) std::abort();
  if (!q && err == mam_query_error::none) std::abort();
  for (const xml::element* c : el->elements()) {
    if (c->is("x", ns_data)) {
      form_error fe;
      if (auto f = parse_form(*c, fe)) {
        // Rebuild and parse again: same fields and values.
        xml::element x = make_form(f->type, "");
        for (const auto& fld : f->fields) add_field(x, fld.var, fld.type, fld.values);
        auto g = parse_form(x, fe);
        if (!g || g->fields.size() != f->fields.size()) std::abort();
        for (size_t i = 0; i < f->fields.size(); ++i)
          if (g->fields[i].values != f->fields[i].values || g->fields[i].var != f->fields[i].var) std::abort();
        for (const auto& fld : f->fields)
          if (auto t = parse_xep0082_datetime(fld.value()))
            if (parse_xep0082_datetime(format_xep0082_datetime(*t)) != t) std::abort();
      }
    } else if (c->is("set", ns_rsm)) {
      rsm_error re;
      if (auto r = parse_rsm(*c, re)) {
        rsm_reply rep;
        rep.first = r->after;
        rep.last = r->before;
        rep.count = r->max;
        (void)make_rsm_reply(rep);
      }
    }
  }
  return 0;
}
