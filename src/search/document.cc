#include "search/document.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "search/analyzer.h"
#include "search/iso_time.h"

namespace taquilla::search {
namespace json = boost::json;

namespace {

Result<json::object> ParseObject(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "{} is not a JSON object", what);
  }
  return std::move(v.as_object());
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

std::optional<double> Double(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h ^ 0xff;  // a separator, so ("ab","c") and ("a","bc") differ
}

}  // namespace

std::string UniqueTerm(std::string_view site, std::string_view lang, int64_t id) {
  return fmt::format("Q{}:{}:{}", site, lang, id);
}
std::string EventTerm(int64_t id) { return fmt::format("XE{}", id); }
std::string SiteLangTerm(std::string_view site, std::string_view lang) {
  return fmt::format("XS{}:{}", site, lang);
}
std::string CategoryTerm(int64_t id) { return fmt::format("XC{}", id); }

Result<std::map<int64_t, int64_t>> CategoryParents(std::string_view cats_json) {
  TQ_ASSIGN_OR_RETURN(json::object root, ParseObject(cats_json, "the categories document"));
  std::map<int64_t, int64_t> parents;
  const json::value* cats = root.if_contains("categories");
  if (cats == nullptr || !cats->is_array()) return parents;
  // Depth-first over the tree, with the parent of each level.
  std::vector<std::pair<const json::array*, std::optional<int64_t>>> stack{
      {&cats->as_array(), std::nullopt}};
  while (!stack.empty()) {
    auto [arr, parent] = stack.back();
    stack.pop_back();
    for (const auto& c : *arr) {
      if (!c.is_object()) continue;
      auto id = Int(c.as_object(), "id");
      if (!id) continue;
      if (parent) parents[*id] = *parent;
      const json::value* children = c.as_object().if_contains("children");
      if (children != nullptr && children->is_array() && stack.size() < 64) {
        stack.emplace_back(&children->as_array(), *id);
      }
    }
  }
  return parents;
}

Result<std::optional<EventDoc>> BuildEventDoc(std::string_view site, std::string_view lang,
                                              std::string_view content, std::string_view offers,
                                              std::string_view venue,
                                              const std::map<int64_t, int64_t>& parents,
                                              int64_t now) {
  TQ_ASSIGN_OR_RETURN(json::object c, ParseObject(content, "an event document"));
  EventDoc d;
  d.site = site;
  d.lang = lang;
  auto id = Int(c, "id");
  if (!id) return MakeError(ErrorCode::kInvalidArgument, "an event document has no id");
  d.id = *id;
  d.status = Str(c, "status");
  d.starts_at = Str(c, "starts_at");
  auto starts = ParseIsoTime(d.starts_at);
  if (!starts) {
    return MakeError(ErrorCode::kInvalidArgument, "event {} has an unreadable starts_at '{}'", d.id,
                     d.starts_at);
  }
  d.starts_epoch = *starts;
  if (d.status == "cancelled" || d.starts_epoch <= now) return std::optional<EventDoc>();
  d.month = d.starts_at.substr(0, 7);
  d.title = Str(c, "title");
  d.description = Str(c, "description");
  if (const json::value* v = c.if_contains("venue"); v != nullptr && v->is_object()) {
    d.venue_id = Int(v->as_object(), "id").value_or(0);
    d.venue_name = Str(v->as_object(), "name");
    d.city = Str(v->as_object(), "city");
    d.country = Str(v->as_object(), "country");
  }
  if (const json::value* v = c.if_contains("category"); v != nullptr && v->is_object()) {
    d.category_id = Int(v->as_object(), "id").value_or(0);
    d.category_name = Str(v->as_object(), "name");
  }
  for (int64_t cat = d.category_id; cat != 0 && d.category_path.size() < 32;) {
    d.category_path.push_back(cat);
    auto p = parents.find(cat);
    cat = p == parents.end() ? 0 : p->second;
  }
  if (const json::value* v = c.if_contains("performers"); v != nullptr && v->is_array()) {
    for (const auto& p : v->as_array()) {
      if (p.is_object()) d.performers.push_back(Str(p.as_object(), "name"));
    }
  }
  json::object o_summary{{"min_price", nullptr}, {"tickets_available", 0}};
  if (!offers.empty()) {
    TQ_ASSIGN_OR_RETURN(json::object o, ParseObject(offers, "an offers document"));
    if (const json::value* mp = o.if_contains("min_price"); mp != nullptr && mp->is_object()) {
      d.min_price = Int(mp->as_object(), "amount_minor");
      o_summary["min_price"] = *mp;
    }
    d.tickets_available = Int(o, "tickets_available").value_or(0);
    o_summary["tickets_available"] = d.tickets_available;
  }
  if (!venue.empty()) {
    TQ_ASSIGN_OR_RETURN(json::object v, ParseObject(venue, "a venue document"));
    d.latitude = Double(v, "latitude");
    d.longitude = Double(v, "longitude");
  }
  c.erase("description");
  c.erase("performers");
  d.data = json::serialize(json::object{{"c", std::move(c)}, {"o", std::move(o_summary)}});

  uint64_t h = 14695981039346656037ULL;
  h = Fnv1a(h, d.data);
  h = Fnv1a(h, d.description);
  for (const auto& p : d.performers) h = Fnv1a(h, p);
  for (int64_t cat : d.category_path) h = Fnv1a(h, std::to_string(cat));
  h = Fnv1a(h, d.latitude ? fmt::format("{:.6f},{:.6f}", *d.latitude, d.longitude.value_or(0))
                          : std::string());
  d.signature = fmt::format("{:016x}", h);
  return std::optional<EventDoc>(std::move(d));
}

Xapian::Document ToXapian(const EventDoc& d, Xapian::TermGenerator& generator) {
  const Analyzer& analyzer = Analyzer::For(d.lang);
  Xapian::Document doc;
  generator.set_document(doc);
  generator.set_stemmer(analyzer.Stem());
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
  generator.set_flags(Analyzer::kTermGeneratorFlags);
  generator.index_text(analyzer.Normalize(d.title), 3);
  for (const auto& p : d.performers) {
    generator.increase_termpos();
    generator.index_text(analyzer.Normalize(p), 2);
  }
  for (const std::string* s : {&d.venue_name, &d.city, &d.category_name}) {
    if (s->empty()) continue;
    generator.increase_termpos();
    generator.index_text(analyzer.Normalize(*s));
  }
  // The description is the longest text and phrases are looked for in names: its words
  // are indexed without positions (they were close to half of the index and its build).
  if (!d.description.empty()) {
    generator.index_text_without_positions(analyzer.Normalize(d.description));
  }
  doc.add_boolean_term(UniqueTerm(d.site, d.lang, d.id));
  doc.add_boolean_term(EventTerm(d.id));
  doc.add_boolean_term(SiteLangTerm(d.site, d.lang));
  for (int64_t cat : d.category_path) doc.add_boolean_term(CategoryTerm(cat));
  if (d.tickets_available > 0) doc.add_boolean_term(std::string(kAvailableTerm));

  doc.add_value(kDate, Xapian::sortable_serialise(static_cast<double>(d.starts_epoch)));
  if (d.min_price) {
    doc.add_value(kPrice, Xapian::sortable_serialise(static_cast<double>(*d.min_price)));
  }
  doc.add_value(kPriceSort,
                Xapian::sortable_serialise(d.min_price ? static_cast<double>(*d.min_price) : 1e15));
  doc.add_value(kTickets, Xapian::sortable_serialise(static_cast<double>(d.tickets_available)));
  doc.add_value(kCategory, fmt::format("{}|{}", d.category_id, d.category_name));
  doc.add_value(kMonth, d.month);
  if (d.latitude && d.longitude) {
    doc.add_value(
        kLatLong,
        Xapian::LatLongCoords(Xapian::LatLongCoord(*d.latitude, *d.longitude)).serialise());
  }
  doc.add_value(kSignature, d.signature);
  doc.add_value(kEventId, std::to_string(d.id));
  doc.add_value(kFacets, fmt::format("{}|{}|{}", d.month, d.category_id, d.category_name));
  doc.set_data(d.data);
  return doc;
}

}  // namespace taquilla::search
