#include "web/render.h"

#include <sodium.h>
#include <zlib.h>

#include <kainjow/mustache.hpp>

namespace taquilla_templates {
std::string_view Get(std::string_view path);
}  // namespace taquilla_templates

namespace taquilla::web {

namespace {
namespace mus = kainjow::mustache;
namespace bhttp = http::bhttp;

// Boost.JSON to mustache data: null is false, numbers are their text.
mus::data ToData(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      mus::data d{mus::data::type::object};
      for (const auto& kv : v.as_object()) d.set(std::string(kv.key()), ToData(kv.value()));
      return d;
    }
    case boost::json::kind::array: {
      mus::data d{mus::data::type::list};
      for (const auto& e : v.as_array()) d.push_back(ToData(e));
      return d;
    }
    case boost::json::kind::string:
      return mus::data(std::string(v.as_string()));
    case boost::json::kind::bool_:
      return mus::data(v.as_bool());
    case boost::json::kind::null:
      return mus::data(false);
    default:
      return mus::data(boost::json::serialize(v));
  }
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string_view Embedded(std::string_view path) { return taquilla_templates::Get(path); }

boost::json::object NestedCatalog(const i18n::Messages::Catalog& catalog) {
  boost::json::object root;
  for (const auto& [key, text] : catalog) {
    boost::json::object* at = &root;
    std::string_view rest = key;
    for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
      auto& child = (*at)[rest.substr(0, dot)];
      if (!child.is_object()) child = boost::json::object();
      at = &child.as_object();
      rest.remove_prefix(dot + 1);
    }
    (*at)[rest] = text;
  }
  return root;
}

Result<std::string> RenderPage(std::string_view page, const boost::json::value& data) {
  std::string_view layout = Embedded("templates/layout.mustache");
  std::string_view body = Embedded(std::string("templates/") + std::string(page) + ".mustache");
  if (layout.empty() || body.empty()) {
    return MakeError(ErrorCode::kInternal, "no template for page {}", page);
  }
  mus::data d = ToData(data);
  std::string partial(body);
  d.set("content", mus::partial([partial] { return partial; }));
  // Partials a page may include: {{> summaries}} is templates/read/summaries.mustache.
  for (std::string_view name : {"summaries"}) {
    std::string text(Embedded(std::string("templates/read/") + std::string(name) + ".mustache"));
    d.set(std::string(name), mus::partial([text] { return text; }));
  }
  mus::mustache tmpl{std::string(layout)};
  std::string html = tmpl.is_valid() ? tmpl.render(d) : "";
  if (!tmpl.is_valid() || !tmpl.error_message().empty()) {
    return MakeError(ErrorCode::kInternal, "template {}: {}", page, tmpl.error_message());
  }
  return html;
}

void SetHtmlHeaders(http::Response& res, std::string_view lang, std::string_view csp) {
  res.set(bhttp::field::content_type, kHtmlType);
  res.set(bhttp::field::content_language, lang);
  res.set("Content-Security-Policy", csp);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "same-origin");
}

std::string Gzip(std::string_view data) {
  // One deflate state per thread, reset for each body: deflateInit2 allocates and clears
  // about 256 KiB, more than compressing a page costs.
  struct Stream {
    z_stream zs{};
    bool ok = false;
    Stream() { ok = deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
    ~Stream() {
      if (ok) deflateEnd(&zs);
    }
  };
  thread_local Stream stream;
  if (!stream.ok || deflateReset(&stream.zs) != Z_OK) return "";
  z_stream& zs = stream.zs;
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END) return "";
  out.resize(zs.total_out);
  return out;
}

std::string ETagOf(std::string_view body) {
  unsigned char hash[16];
  crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char*>(body.data()),
                     body.size(), nullptr, 0);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return "\"" + std::string(hex) + "\"";
}

bool ETagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = TrimView(header.substr(0, comma));
    if (item == "*") return true;
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = TrimView(header.substr(0, comma));
    auto semi = item.find(';');
    std::string_view coding = TrimView(item.substr(0, semi));
    if (coding == "gzip" || coding == "x-gzip" || coding == "*") {
      if (semi == std::string_view::npos) return true;
      std::string_view params = TrimView(item.substr(semi + 1));
      if (params.substr(0, 2) == "q=" || params.substr(0, 2) == "Q=") {
        std::string_view q = params.substr(2);
        bool zero = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
        return !zero;
      }
      return true;
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace taquilla::web
